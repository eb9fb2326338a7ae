// Copyright: the Concierge authors.
//
// Status and Result<T>: how Concierge reports errors. No function of the library throws;
// each returns a Status (or a Result<T> holding either a value or a non-ok Status) whose
// message says what went wrong and, where it can, how to fix it.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace concierge {

class Status {
 public:
  enum class Code {
    kOk,
    kInvalidArgument,
    kNotFound,
    kConflict,
    kUnavailable,
    kInternal,
    kPermissionDenied,
  };

  // An ok Status.
  Status() = default;
  static Status Ok() { return {}; }
  // The request was wrong (a bad name, a malformed value); retrying it will not help.
  static Status InvalidArgument(std::string msg) {
    return {Code::kInvalidArgument, std::move(msg)};
  }
  // The thing named does not exist (e.g. the registry forgot an instance).
  static Status NotFound(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
  static Status Conflict(std::string msg) { return {Code::kConflict, std::move(msg)}; }
  // No registry could be reached or none answered usefully; retrying later may help.
  static Status Unavailable(std::string msg) { return {Code::kUnavailable, std::move(msg)}; }
  // Something that should not happen (an answer that cannot be read, a library error).
  static Status Internal(std::string msg) { return {Code::kInternal, std::move(msg)}; }
  // The ACL token lacks a right, or names no token (HTTP 403).
  static Status PermissionDenied(std::string msg) {
    return {Code::kPermissionDenied, std::move(msg)};
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  // Empty for an ok Status.
  const std::string& message() const { return message_; }

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// Either a value or a non-ok Status. value() on an error is a programming error.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).ok()); }  // NOLINT

  bool ok() const { return v_.index() == 0; }
  // Ok when a value is held.
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace concierge
