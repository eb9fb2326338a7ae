# Turns the built web UI (ui/dist, committed) into a C++ source with one byte array per file,
# so that building and running the agent never needs Node (DEPENDENCY-NOTES.md).
#   cmake -DDIST=<ui/dist> -DOUT=<ui_assets.cc> -P embed_ui.cmake
file(GLOB_RECURSE files RELATIVE "${DIST}" "${DIST}/*")
list(SORT files)

set(arrays "")
set(entries "")
set(i 0)
foreach(f IN LISTS files)
  get_filename_component(ext "${f}" LAST_EXT)
  string(TOLOWER "${ext}" ext)
  if(ext STREQUAL ".html")
    set(type "text/html; charset=utf-8")
  elseif(ext STREQUAL ".js" OR ext STREQUAL ".mjs")
    set(type "text/javascript; charset=utf-8")
  elseif(ext STREQUAL ".css")
    set(type "text/css; charset=utf-8")
  elseif(ext STREQUAL ".svg")
    set(type "image/svg+xml")
  elseif(ext STREQUAL ".png")
    set(type "image/png")
  elseif(ext STREQUAL ".ico")
    set(type "image/x-icon")
  elseif(ext STREQUAL ".json" OR ext STREQUAL ".map")
    set(type "application/json")
  elseif(ext STREQUAL ".woff2")
    set(type "font/woff2")
  else()
    set(type "application/octet-stream")
  endif()
  file(READ "${DIST}/${f}" hex HEX)
  file(SHA1 "${DIST}/${f}" sha)
  string(SUBSTRING "${sha}" 0 16 etag)
  string(LENGTH "${hex}" hex_len)
  math(EXPR size "${hex_len} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  # A zero byte after the data keeps empty files legal C++.
  string(APPEND arrays "const unsigned char kFile${i}[] = {${bytes}0x00};\n")
  string(APPEND entries
         "    {\"/ui/${f}\", \"${type}\", \"\\\"${etag}\\\"\", {reinterpret_cast<const char*>(kFile${i}), ${size}}},\n")
  math(EXPR i "${i} + 1")
endforeach()

file(WRITE "${OUT}.tmp" "// Generated from ui/dist by src/http/embed_ui.cmake. Do not edit.
#include \"http/ui.h\"

namespace concierge::http {
namespace {
${arrays}
const UiFile kFiles[] = {
${entries}    {\"\", \"\", \"\", {}},
};
}  // namespace

std::span<const UiFile> UiFiles() { return {kFiles, std::size(kFiles) - 1}; }

}  // namespace concierge::http
")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
