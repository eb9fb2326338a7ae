#include "cli/kv.h"

#include <fstream>
#include <iostream>
#include <iterator>

#include "client/json.h"
#include "client/kv_api.h"
#include "tls/base64.h"

namespace concierge::cli {

namespace {

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

int Fail(const Status& status) {
  std::cerr << "Error: " << status.message() << "\n";
  return 1;
}

// The answer of a write: true, or false when a condition failed.
int Written(const Result<bool>& written, std::string_view what) {
  if (!written.ok()) return Fail(written.status());
  if (*written) {
    std::cout << "Success! " << what << "\n";
    return 0;
  }
  std::cerr << "Error! The agent answered false: a stale -modify-index, or a lock another "
               "session holds\n";
  return 1;
}

int Get(client::HttpClient& http, const KvArgs& a) {
  if (a.keys) {
    Result<std::vector<std::string>> keys = client::KvKeys(http, a.key, a.separator);
    if (!keys.ok()) return Fail(keys.status());
    for (const std::string& key : *keys) std::cout << key << "\n";
    return 0;
  }
  Result<client::KvRead> read = client::KvGet(http, a.key, {.recurse = a.recurse});
  if (!read.ok()) return Fail(read.status());
  if (read->entries.empty() && !a.recurse) {
    std::cerr << "Error! No key exists at: " << a.key << "\n";
    return 1;
  }
  for (const client::KvEntry& e : read->entries) {
    if (a.detailed) {
      std::cout << "CreateIndex      " << e.create_index << "\n"
                << "Flags            " << e.flags << "\n"
                << "Key              " << e.key << "\n"
                << "LockIndex        " << e.lock_index << "\n"
                << "ModifyIndex      " << e.modify_index << "\n"
                << "Session          " << (e.session.empty() ? "-" : e.session) << "\n"
                << "Value            " << e.value << "\n";
      if (a.recurse) std::cout << "\n";
    } else if (a.recurse) {
      std::cout << e.key << ":" << e.value << "\n";
    } else {
      std::cout << e.value << "\n";
    }
  }
  return 0;
}

int Put(client::HttpClient& http, const KvArgs& a) {
  std::optional<std::string> value = ReadValue(a.value);
  if (!value) return 1;
  client::KvWrite write{.flags = a.flags};
  if (a.cas) write.cas = a.modify_index;
  if (a.acquire || a.release) {
    if (a.session.empty()) {
      std::cerr << "Error! -session is required with -acquire and -release\n";
      return 2;
    }
    (a.acquire ? write.acquire : write.release) = a.session;
  }
  return Written(client::KvPut(http, a.key, *value, write), "Data written to: " + a.key);
}

int Delete(client::HttpClient& http, const KvArgs& a) {
  std::optional<std::uint64_t> cas;
  if (a.cas) cas = a.modify_index;
  return Written(client::KvDelete(http, a.key, a.recurse, cas), "Deleted key: " + a.key);
}

// Consul's export format: [{"key": ..., "flags": N, "value": base64}], sorted by key.
int Export(client::HttpClient& http, const KvArgs& a) {
  Result<client::KvRead> read = client::KvGet(http, a.key, {.recurse = true});
  if (!read.ok()) return Fail(read.status());
  rapidjson::StringBuffer buf;
  client::JsonWriter w(buf);
  w.StartArray();
  for (const client::KvEntry& e : read->entries) {
    w.StartObject();
    client::WriteField(w, "key", e.key);
    w.Key("flags");
    w.Uint64(e.flags);
    client::WriteField(w, "value", tls::Base64Encode(e.value));
    w.EndObject();
  }
  w.EndArray();
  std::cout << buf.GetString() << "\n";
  return 0;
}

int Import(client::HttpClient& http, const KvArgs& a) {
  std::optional<std::string> text = ReadValue(a.file.empty() ? "-" : a.file);
  if (!text) return 1;
  Result<rapidjson::Document> doc = client::ParseJson(*text);
  if (!doc.ok() || !doc->IsArray()) {
    std::cerr << "Error! the import is not a JSON array of {\"key\", \"flags\", \"value\"}\n";
    return 2;
  }
  std::size_t n = 0;
  for (const auto& item : doc->GetArray()) {
    std::string key = client::GetString(item, "key");
    std::optional<std::string> value =
        item.IsObject() ? tls::Base64Decode(client::GetString(item, "value")) : std::nullopt;
    if (!value || key.empty()) {
      std::cerr << "Error! entry " << n << ": expected {\"key\", \"flags\", \"value\" (base64)}\n";
      return 2;
    }
    Result<bool> put =
        client::KvPut(http, key, *value, {.flags = client::GetUint64(item, "flags")});
    if (!put.ok()) return Fail(put.status());
    std::cout << "Imported: " << key << "\n";
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

int RunKv(client::HttpClient& http, const KvArgs& a) {
  if (a.get->parsed()) return Get(http, a);
  if (a.put->parsed()) return Put(http, a);
  if (a.del->parsed()) return Delete(http, a);
  if (a.exp->parsed()) return Export(http, a);
  return Import(http, a);
}

}  // namespace concierge::cli
