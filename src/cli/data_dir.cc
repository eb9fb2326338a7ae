#include "cli/data_dir.h"

#include <fcntl.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace concierge::cli {

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) ::close(fd_);
}

Status DataDirLock::Acquire(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::Unavailable("cannot create data directory " + dir + ": " + ec.message());
  std::string path = dir + "/LOCK";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) return Status::Unavailable("cannot open " + path + ": " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    return Status::Unavailable("data directory " + dir +
                               " is in use by another agent (pass -data-dir to use another)");
  }
  return Status::Ok();
}

namespace {

Status WriteFormat(const std::string& path, const std::string& version) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("format");
  w.Int(kDataFormat);
  w.Key("written_by");
  w.String(("concierge " + version).c_str());
  w.EndObject();
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << buf.GetString() << "\n";
    if (!out) return Status::Unavailable("cannot write " + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Status::Unavailable("cannot write " + path + ": " + ec.message());
  return Status::Ok();
}

}  // namespace

Status CheckDataFormat(const std::string& dir, const std::string& version) {
  const std::string path = dir + "/" + kDataFormatFile;
  std::ifstream in(path);
  if (!in) return WriteFormat(path, version);
  std::stringstream text;
  text << in.rdbuf();
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(text.str().c_str());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("format") ||
      !doc["format"].IsInt()) {
    return Status::InvalidArgument(
        path + ": not a data format file (expected {\"format\": " + std::to_string(kDataFormat) +
        ", ...}); is " + dir + " a Concierge data directory?");
  }
  int format = doc["format"].GetInt();
  if (format <= kDataFormat) return Status::Ok();
  std::string writer = doc.HasMember("written_by") && doc["written_by"].IsString()
                           ? doc["written_by"].GetString()
                           : "a newer concierge";
  return Status::InvalidArgument(
      "data directory " + dir + " has data format " + std::to_string(format) + ", written by " +
      writer + "; this build (concierge " + version + ") reads format " +
      std::to_string(kDataFormat) +
      " and older: run the newer build, or start from a backup (docs/operations.md)");
}

}  // namespace concierge::cli
