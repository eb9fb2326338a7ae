#include "cli/kv.h"

#include <fstream>
#include <iostream>
#include <iterator>

#include "cli/answer.h"
#include "client/json.h"
#include "client/wire.h"
#include "tls/base64.h"

namespace concierge::cli {

namespace {

using client::GetString;
using client::GetUint64;

std::string KeyTarget(std::string_view key) { return "/v1/kv/" + client::Encode(key, true); }

// The bytes of "-" (stdin) or "@file", or the text itself.
std::optional<std::string> ReadValue(const std::string& spec) {
  if (spec == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  if (spec.starts_with("@")) {
    std::ifstream in(spec.substr(1), std::ios::binary);
    if (!in) {
      std::cerr << "Error: cannot read " << spec.substr(1) << "\n";
      return std::nullopt;
    }
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return spec;
}

std::string Value(const rapidjson::Value& entry) {
  return tls::Base64Decode(GetString(entry, "Value")).value_or("");
}

// A PUT or DELETE whose answer is true or false.
int Write(client::HttpClient& client, std::string_view method, const std::string& target,
          std::string_view body, std::string_view what) {
  auto r = client.Send(method, target, body);
  if (!r.ok()) {
    std::cerr << "Error: " << r.status().message() << "\n";
    return 1;
  }
  if (r->status != 200) return Refused(*r);
  if (r->body.starts_with("true")) {
    std::cout << "Success! " << what << "\n";
    return 0;
  }
  std::cerr << "Error! The agent answered false: a stale -modify-index, or a lock another "
               "session holds\n";
  return 1;
}

int Get(client::HttpClient& client, const KvArgs& a) {
  std::string target = KeyTarget(a.key);
  if (a.keys) {
    target += "?keys&separator=" + client::Encode(a.separator);
  } else if (a.recurse) {
    target += "?recurse";
  }
  auto r = client.Get(target);
  if (!r.ok()) {
    std::cerr << "Error: " << r.status().message() << "\n";
    return 1;
  }
  if (r->status == 404) {
    if (a.keys || a.recurse) return 0;  // nothing under the prefix
    std::cerr << "Error! No key exists at: " << a.key << "\n";
    return 1;
  }
  if (r->status != 200) return Refused(*r);
  Result<rapidjson::Document> doc = client::ParseJson(r->body);
  if (!doc.ok() || !doc->IsArray()) {
    std::cerr << "Error: the agent's answer is not a JSON array\n";
    return 1;
  }
  for (const auto& item : doc->GetArray()) {
    if (a.keys) {
      if (item.IsString()) std::cout << item.GetString() << "\n";
      continue;
    }
    if (!item.IsObject()) continue;
    if (a.detailed) {
      std::cout << "CreateIndex      " << GetUint64(item, "CreateIndex") << "\n"
                << "Flags            " << GetUint64(item, "Flags") << "\n"
                << "Key              " << GetString(item, "Key") << "\n"
                << "LockIndex        " << GetUint64(item, "LockIndex") << "\n"
                << "ModifyIndex      " << GetUint64(item, "ModifyIndex") << "\n"
                << "Session          "
                << (GetString(item, "Session").empty() ? "-" : GetString(item, "Session")) << "\n"
                << "Value            " << Value(item) << "\n";
      if (a.recurse) std::cout << "\n";
    } else if (a.recurse) {
      std::cout << GetString(item, "Key") << ":" << Value(item) << "\n";
    } else {
      std::cout << Value(item) << "\n";
    }
  }
  return 0;
}

int Put(client::HttpClient& client, const KvArgs& a) {
  std::optional<std::string> value = ReadValue(a.value);
  if (!value) return 1;
  std::string target = KeyTarget(a.key) + "?flags=" + std::to_string(a.flags);
  if (a.cas) target += "&cas=" + std::to_string(a.modify_index);
  if (a.acquire || a.release) {
    if (a.session.empty()) {
      std::cerr << "Error! -session is required with -acquire and -release\n";
      return 2;
    }
    target += (a.acquire ? "&acquire=" : "&release=") + client::Encode(a.session);
  }
  return Write(client, "PUT", target, *value, "Data written to: " + a.key);
}

int Delete(client::HttpClient& client, const KvArgs& a) {
  std::string target = KeyTarget(a.key);
  if (a.recurse) {
    target += "?recurse";
  } else if (a.cas) {
    target += "?cas=" + std::to_string(a.modify_index);
  }
  return Write(client, "DELETE", target, {}, "Deleted key: " + a.key);
}

// Consul's export format: [{"key": ..., "flags": N, "value": base64}], sorted by key.
int Export(client::HttpClient& client, const KvArgs& a) {
  auto r = client.Get(KeyTarget(a.key) + "?recurse");
  if (!r.ok()) {
    std::cerr << "Error: " << r.status().message() << "\n";
    return 1;
  }
  rapidjson::Document doc;
  if (r->status == 200) {
    doc.Parse<rapidjson::kParseIterativeFlag>(r->body.data(), r->body.size());
  } else if (r->status == 404) {
    doc.SetArray();
  } else {
    return Refused(*r);
  }
  if (doc.HasParseError() || !doc.IsArray()) {
    std::cerr << "Error: the agent's answer is not a JSON array\n";
    return 1;
  }
  rapidjson::StringBuffer buf;
  client::JsonWriter w(buf);
  w.StartArray();
  for (const auto& item : doc.GetArray()) {
    if (!item.IsObject()) continue;
    w.StartObject();
    client::WriteField(w, "key", GetString(item, "Key"));
    w.Key("flags");
    w.Uint64(GetUint64(item, "Flags"));
    client::WriteField(w, "value", GetString(item, "Value"));
    w.EndObject();
  }
  w.EndArray();
  std::cout << buf.GetString() << "\n";
  return 0;
}

int Import(client::HttpClient& client, const KvArgs& a) {
  std::optional<std::string> text = ReadValue(a.file.empty() ? "-" : a.file);
  if (!text) return 1;
  Result<rapidjson::Document> doc = client::ParseJson(*text);
  if (!doc.ok() || !doc->IsArray()) {
    std::cerr << "Error! the import is not a JSON array of {\"key\", \"flags\", \"value\"}\n";
    return 2;
  }
  std::size_t n = 0;
  for (const auto& item : doc->GetArray()) {
    std::optional<std::string> value =
        item.IsObject() ? tls::Base64Decode(GetString(item, "value")) : std::nullopt;
    if (!value || GetString(item, "key").empty()) {
      std::cerr << "Error! entry " << n << ": expected {\"key\", \"flags\", \"value\" (base64)}\n";
      return 2;
    }
    std::string target =
        KeyTarget(GetString(item, "key")) + "?flags=" + std::to_string(GetUint64(item, "flags"));
    auto r = client.Put(target, *value);
    if (!r.ok()) {
      std::cerr << "Error: " << r.status().message() << "\n";
      return 1;
    }
    if (r->status != 200) return Refused(*r);
    std::cout << "Imported: " << GetString(item, "key") << "\n";
    ++n;
  }
  return 0;
}

}  // namespace

CLI::App* AddKvCommand(CLI::App& app, KvArgs* a, const std::function<void(CLI::App*)>& each) {
  CLI::App* kv = app.add_subcommand("kv", "Read and write the KV store (docs/kv.md)");
  kv->require_subcommand(1);
  a->get = kv->add_subcommand("get", "Print a key's value (or, with -recurse, every key:value)");
  a->get->add_option("key", a->key, "The key (a prefix with -recurse or -keys)");
  a->get->add_flag("--recurse", a->recurse, "Every key under the prefix");
  a->get->add_flag("--keys", a->keys, "Only the keys under the prefix, up to the separator");
  a->get->add_option("--separator", a->separator, "With -keys: list up to this (default /)");
  a->get->add_flag("--detailed", a->detailed, "Every field of the entry");
  a->put = kv->add_subcommand("put", "Write a value (\"-\": stdin, \"@file\": a file)");
  a->put->add_option("key", a->key, "The key")->required();
  a->put->add_option("value", a->value, "The value");
  a->put->add_option("--flags", a->flags, "64 bits kept with the value");
  a->put->add_flag("--cas", a->cas, "Only if the key's ModifyIndex is -modify-index (0: new)");
  a->put->add_option("--modify-index", a->modify_index, "With -cas");
  a->put->add_flag("--acquire", a->acquire, "Take the key's lock for -session");
  a->put->add_flag("--release", a->release, "Give back the lock -session holds");
  a->put->add_option("--session", a->session, "The session of -acquire or -release");
  a->del = kv->add_subcommand("delete", "Delete a key (or, with -recurse, every key under it)");
  a->del->add_option("key", a->key, "The key")->required();
  a->del->add_flag("--recurse", a->recurse, "Every key under the prefix");
  a->del->add_flag("--cas", a->cas, "Only if the key's ModifyIndex is -modify-index");
  a->del->add_option("--modify-index", a->modify_index, "With -cas");
  a->exp = kv->add_subcommand("export", "Print every key under a prefix as JSON (Consul's format)");
  a->exp->add_option("prefix", a->key, "The prefix (default: everything)");
  a->imp = kv->add_subcommand("import", "Write the keys of an export (a file, or stdin)");
  a->imp->add_option("file", a->file, "The export (\"@file\", or \"-\" for stdin)");
  for (CLI::App* c : {a->get, a->put, a->del, a->exp, a->imp}) each(c);
  return kv;
}

int RunKv(client::HttpClient& client, const KvArgs& a) {
  if (a.get->parsed()) return Get(client, a);
  if (a.put->parsed()) return Put(client, a);
  if (a.del->parsed()) return Delete(client, a);
  if (a.exp->parsed()) return Export(client, a);
  return Import(client, a);
}

}  // namespace concierge::cli
