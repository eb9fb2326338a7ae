# Every JSON text the programs read is parsed with RapidJSON's iterative parser: the
# recursive one overflows the stack on a body of nested brackets (issue 18). Fails on any
# `.Parse(`, `.ParseInsitu(` or `.Parse<...>` without kParseIterativeFlag under src/.
file(GLOB_RECURSE sources ${SRC}/*.cc ${SRC}/*.h)
set(bad)
foreach(f IN LISTS sources)
  file(STRINGS ${f} lines REGEX "\\.(Parse|ParseInsitu|ParseStream)[(<]")
  foreach(line IN LISTS lines)
    if(NOT line MATCHES "kParseIterativeFlag")
      list(APPEND bad "${f}: ${line}")
    endif()
  endforeach()
endforeach()
if(bad)
  string(REPLACE ";" "\n" bad "${bad}")
  message(FATAL_ERROR "recursive JSON parsing (use Parse<rapidjson::kParseIterativeFlag>):\n${bad}")
endif()
