#include "http/eureka.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>

#include "http/message.h"

namespace concierge::http {

namespace {

using rapidjson::Value;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr std::string_view kStatusNames[] = {"DOWN", "OUT_OF_SERVICE", "STARTING", "UNKNOWN", "UP"};

// Eureka's own fields, kept in meta under these keys (docs/eureka.md).
constexpr std::string_view kMetaPrefix = "eureka-";
constexpr std::string_view kMetaApp = "eureka-app";
constexpr std::string_view kMetaHostName = "eureka-hostname";
constexpr std::string_view kMetaVip = "eureka-vip";
constexpr std::string_view kMetaSecureVip = "eureka-secure-vip";
constexpr std::string_view kMetaPortEnabled = "eureka-port-enabled";
constexpr std::string_view kMetaSecurePort = "eureka-secure-port";
constexpr std::string_view kMetaDataCenter = "eureka-datacenter";
constexpr std::string_view kMetaRenewal = "eureka-renewal-secs";
constexpr std::string_view kMetaDirty = "eureka-dirty-timestamp";
constexpr std::string_view kMetaHomePage = "eureka-home-page-url";
constexpr std::string_view kMetaStatusPage = "eureka-status-page-url";
constexpr std::string_view kMetaHealthCheck = "eureka-health-check-url";
constexpr std::string_view kMetaSecureHealthCheck = "eureka-secure-health-check-url";

constexpr std::string_view kDefaultDataCenterClass =
    "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo";
constexpr std::string_view kAmazonClass = "com.netflix.appinfo.AmazonInfo";
constexpr std::string_view kEmptyMapClass = "java.util.Collections$EmptyMap";

char Upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }
char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

Status Bad(std::string message) { return Status::InvalidArgument(std::move(message)); }

const Value* Member(const Value& object, std::string_view name) {
  auto it = object.FindMember(
      rapidjson::StringRef(name.data(), static_cast<rapidjson::SizeType>(name.size())));
  if (it == object.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

// A string field; numbers and booleans are taken as their text (clients differ).
Status Text(const Value& object, std::string_view name, std::string* out) {
  const Value* v = Member(object, name);
  if (v == nullptr) return Status::Ok();
  if (v->IsString()) {
    *out = std::string(v->GetString(), v->GetStringLength());
  } else if (v->IsInt64()) {
    *out = std::to_string(v->GetInt64());
  } else if (v->IsBool()) {
    *out = v->GetBool() ? "true" : "false";
  } else {
    return Bad("instance." + std::string(name) + ": expected a string");
  }
  if (!ValidUtf8(*out)) return Bad("instance." + std::string(name) + ": is not valid UTF-8");
  return Status::Ok();
}

Result<std::int64_t> Integer(const Value& v, const std::string& field) {
  if (v.IsInt64()) return v.GetInt64();
  if (v.IsString()) {
    std::string s(v.GetString(), v.GetStringLength());
    char* end = nullptr;
    errno = 0;
    long long n = std::strtoll(s.c_str(), &end, 10);
    if (!s.empty() && *end == '\0' && errno == 0) return static_cast<std::int64_t>(n);
    return Bad(field + ": expected an integer, got \"" + s + "\"");
  }
  return Bad(field + ": expected an integer");
}

Result<bool> Boolean(const Value& v, const std::string& field) {
  if (v.IsBool()) return v.GetBool();
  if (v.IsString()) {
    std::string_view s(v.GetString(), v.GetStringLength());
    if (s == "true") return true;
    if (s == "false") return false;
  }
  return Bad(field + ": expected true or false");
}

struct Port {
  std::int64_t number = 0;
  bool enabled = false;
  bool given = false;
};

// {"$": 8080, "@enabled": "true"} (Eureka's JSON), or a bare number.
Result<Port> DecodePort(const Value& object, std::string_view name, bool enabled_by_default) {
  Port port;
  const Value* v = Member(object, name);
  if (v == nullptr) return port;
  const std::string field = "instance." + std::string(name);
  port.given = true;
  port.enabled = enabled_by_default;
  const Value* number = v;
  if (v->IsObject()) {
    number = Member(*v, "$");
    if (const Value* enabled = Member(*v, "@enabled")) {
      auto e = Boolean(*enabled, field + ".@enabled");
      if (!e.ok()) return e.status();
      port.enabled = *e;
    }
    if (number == nullptr) return Bad(field + ": missing \"$\" (the port number)");
  }
  auto n = Integer(*number, field);
  if (!n.ok()) return n.status();
  if (*n < 0 || *n > 65535) {
    return Bad(field + ": expected a port from 0 to 65535, got " + std::to_string(*n));
  }
  port.number = *n;
  return port;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Upper(c);
  return out;
}

std::optional<std::string_view> MetaValue(const core::Instance& instance, std::string_view key) {
  for (const auto& [k, v] : instance.service.meta) {
    if (k == key) return v.view();
  }
  return std::nullopt;
}

const core::Check* LeaseCheck(const core::Instance& instance) {
  return instance.FindCheck(LeaseCheckId(instance.service.id));
}

const core::Check* MaintenanceCheck(const core::Instance& instance) {
  for (const core::Check& c : instance.checks) {
    if (core::IsMaintenanceCheck(c.id())) return &c;
  }
  return nullptr;
}

std::int64_t Millis(core::Time t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// The last change of the instance's status, in ms since the epoch (Eureka's timestamps).
std::int64_t UpdatedMillis(const core::Instance& instance) {
  core::Time latest{};
  for (const core::Check& c : instance.checks) latest = std::max(latest, c.status_since);
  return Millis(latest);
}

std::string_view ActionName(ActionType action) {
  switch (action) {
    case ActionType::kAdded:
      return "ADDED";
    case ActionType::kModified:
      return "MODIFIED";
    case ActionType::kDeleted:
      return "DELETED";
  }
  return "ADDED";
}

// Everything an encoder writes about one instance, in Eureka's order.
struct Fields {
  std::string_view id;
  std::string_view host;
  std::string app;
  std::string_view ip;
  EurekaStatus status;
  EurekaStatus overridden;
  std::uint16_t port;
  bool port_enabled;
  std::string secure_port;
  bool secure_port_enabled;
  std::string_view datacenter;
  std::string renewal;
  std::int64_t duration;
  std::int64_t updated;
  std::vector<std::pair<std::string_view, std::string_view>> metadata;
  std::optional<std::string_view> home, status_page, health, secure_health;
  std::string vip;
  std::string secure_vip;
  std::string dirty;
};

Fields FieldsOf(const core::Instance& inst) {
  Fields f;
  f.id = inst.service.id;
  f.host = MetaValue(inst, kMetaHostName).value_or(inst.service.address.view());
  f.app = AppOfService(inst.service.name);
  f.ip = inst.service.address;
  f.status = StatusOf(inst);
  f.overridden = OverriddenStatusOf(inst);
  f.port = inst.service.port;
  f.port_enabled = MetaValue(inst, kMetaPortEnabled) != std::optional<std::string_view>("false");
  auto secure = MetaValue(inst, kMetaSecurePort);
  f.secure_port = secure ? std::string(*secure) : "443";
  f.secure_port_enabled = secure.has_value();
  f.datacenter = MetaValue(inst, kMetaDataCenter).value_or("MyOwn");
  f.renewal = std::string(MetaValue(inst, kMetaRenewal).value_or("30"));
  const core::Check* lease = LeaseCheck(inst);
  f.duration = lease != nullptr && lease->definition.kind == core::CheckKind::kTtl
                   ? std::chrono::duration_cast<std::chrono::seconds>(lease->definition.ttl).count()
                   : kDefaultLeaseSeconds;
  f.updated = UpdatedMillis(inst);
  for (const auto& [k, v] : inst.service.meta) {
    if (!k.starts_with(kMetaPrefix)) f.metadata.emplace_back(k.view(), v.view());
  }
  f.home = MetaValue(inst, kMetaHomePage);
  f.status_page = MetaValue(inst, kMetaStatusPage);
  f.health = MetaValue(inst, kMetaHealthCheck);
  f.secure_health = MetaValue(inst, kMetaSecureHealthCheck);
  f.vip = VipAddressOf(inst);
  f.secure_vip = SecureVipAddressOf(inst);
  auto dirty = MetaValue(inst, kMetaDirty);
  f.dirty = dirty ? std::string(*dirty) : std::to_string(f.updated);
  return f;
}

// --- JSON ---

void Str(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}
void Key(Writer& w, std::string_view k) {
  w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
}
void StrField(Writer& w, std::string_view k, std::string_view v) {
  Key(w, k);
  Str(w, v);
}

void WriteInstanceJson(Writer& w, const core::Instance& inst, ActionType action) {
  const Fields f = FieldsOf(inst);
  w.StartObject();
  StrField(w, "instanceId", f.id);
  StrField(w, "hostName", f.host);
  StrField(w, "app", f.app);
  StrField(w, "ipAddr", f.ip);
  StrField(w, "status", ToString(f.status));
  // Eureka 1.x wrote "overriddenstatus" and newer ones "overriddenStatus"; clients read either.
  StrField(w, "overriddenStatus", ToString(f.overridden));
  StrField(w, "overriddenstatus", ToString(f.overridden));
  Key(w, "port");
  w.StartObject();
  Key(w, "$");
  w.Int(f.port);
  StrField(w, "@enabled", f.port_enabled ? "true" : "false");
  w.EndObject();
  Key(w, "securePort");
  w.StartObject();
  Key(w, "$");
  w.Int64(std::strtoll(f.secure_port.c_str(), nullptr, 10));
  StrField(w, "@enabled", f.secure_port_enabled ? "true" : "false");
  w.EndObject();
  Key(w, "countryId");
  w.Int(1);
  Key(w, "dataCenterInfo");
  w.StartObject();
  StrField(w, "@class", f.datacenter == "Amazon" ? kAmazonClass : kDefaultDataCenterClass);
  StrField(w, "name", f.datacenter);
  w.EndObject();
  Key(w, "leaseInfo");
  w.StartObject();
  Key(w, "renewalIntervalInSecs");
  w.Int64(std::strtoll(f.renewal.c_str(), nullptr, 10));
  Key(w, "durationInSecs");
  w.Int64(f.duration);
  for (std::string_view k : {"registrationTimestamp", "lastRenewalTimestamp"}) {
    Key(w, k);
    w.Int64(f.updated);
  }
  Key(w, "evictionTimestamp");
  w.Int64(0);
  Key(w, "serviceUpTimestamp");
  w.Int64(f.updated);
  w.EndObject();
  Key(w, "metadata");
  w.StartObject();
  if (f.metadata.empty()) StrField(w, "@class", kEmptyMapClass);
  for (const auto& [k, v] : f.metadata) StrField(w, k, v);
  w.EndObject();
  if (f.home) StrField(w, "homePageUrl", *f.home);
  if (f.status_page) StrField(w, "statusPageUrl", *f.status_page);
  if (f.health) StrField(w, "healthCheckUrl", *f.health);
  if (f.secure_health) StrField(w, "secureHealthCheckUrl", *f.secure_health);
  StrField(w, "vipAddress", f.vip);
  if (!f.secure_vip.empty()) StrField(w, "secureVipAddress", f.secure_vip);
  StrField(w, "isCoordinatingDiscoveryServer", "false");
  StrField(w, "lastUpdatedTimestamp", std::to_string(f.updated));
  StrField(w, "lastDirtyTimestamp", f.dirty);
  StrField(w, "actionType", ActionName(action));
  w.EndObject();
}

void WriteApplicationJson(Writer& w, const EurekaApp& app) {
  w.StartObject();
  StrField(w, "name", app.name);
  Key(w, "instance");
  w.StartArray();
  for (const EurekaEntry& e : app.instances) {
    if (e.encoded != nullptr && e.action == ActionType::kAdded) {
      std::string_view text = e.encoded->Get(EurekaFormat::kJson);
      w.RawValue(text.data(), text.size(), rapidjson::kObjectType);
    } else {
      WriteInstanceJson(w, *e.instance, e.action);
    }
  }
  w.EndArray();
  w.EndObject();
}

std::string Done(const rapidjson::StringBuffer& buf) { return {buf.GetString(), buf.GetSize()}; }

// --- XML ---

void Escaped(std::string& out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
}

// A metadata key as an element name: characters XML names do not take become '_'.
std::string ElementName(std::string_view key) {
  std::string out;
  for (char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                    (!out.empty() && ((c >= '0' && c <= '9') || c == '-' || c == '.'));
    out += ok ? c : '_';
  }
  return out.empty() ? "_" : out;
}

void Element(std::string& out, std::string_view name, std::string_view value) {
  out += '<';
  out += name;
  out += '>';
  Escaped(out, value);
  out += "</";
  out += name;
  out += '>';
}

void WriteInstanceXml(std::string& out, const core::Instance& inst, ActionType action) {
  const Fields f = FieldsOf(inst);
  out += "<instance>";
  Element(out, "instanceId", f.id);
  Element(out, "hostName", f.host);
  Element(out, "app", f.app);
  Element(out, "ipAddr", f.ip);
  Element(out, "status", ToString(f.status));
  Element(out, "overriddenstatus", ToString(f.overridden));
  out += std::string("<port enabled=\"") + (f.port_enabled ? "true" : "false") + "\">" +
         std::to_string(f.port) + "</port>";
  out += std::string("<securePort enabled=\"") + (f.secure_port_enabled ? "true" : "false") +
         "\">" + f.secure_port + "</securePort>";
  Element(out, "countryId", "1");
  out += "<dataCenterInfo class=\"";
  out += f.datacenter == "Amazon" ? kAmazonClass : kDefaultDataCenterClass;
  out += "\">";
  Element(out, "name", f.datacenter);
  out += "</dataCenterInfo><leaseInfo>";
  Element(out, "renewalIntervalInSecs", f.renewal);
  Element(out, "durationInSecs", std::to_string(f.duration));
  Element(out, "registrationTimestamp", std::to_string(f.updated));
  Element(out, "lastRenewalTimestamp", std::to_string(f.updated));
  Element(out, "evictionTimestamp", "0");
  Element(out, "serviceUpTimestamp", std::to_string(f.updated));
  out += "</leaseInfo>";
  if (f.metadata.empty()) {
    out += "<metadata class=\"java.util.Collections$EmptyMap\"/>";
  } else {
    out += "<metadata>";
    for (const auto& [k, v] : f.metadata) Element(out, ElementName(k), v);
    out += "</metadata>";
  }
  if (f.home) Element(out, "homePageUrl", *f.home);
  if (f.status_page) Element(out, "statusPageUrl", *f.status_page);
  if (f.health) Element(out, "healthCheckUrl", *f.health);
  if (f.secure_health) Element(out, "secureHealthCheckUrl", *f.secure_health);
  Element(out, "vipAddress", f.vip);
  if (!f.secure_vip.empty()) Element(out, "secureVipAddress", f.secure_vip);
  Element(out, "isCoordinatingDiscoveryServer", "false");
  Element(out, "lastUpdatedTimestamp", std::to_string(f.updated));
  Element(out, "lastDirtyTimestamp", f.dirty);
  Element(out, "actionType", ActionName(action));
  out += "</instance>";
}

void WriteApplicationXml(std::string& out, const EurekaApp& app) {
  out += "<application>";
  Element(out, "name", app.name);
  for (const EurekaEntry& e : app.instances) {
    if (e.encoded != nullptr && e.action == ActionType::kAdded) {
      out += e.encoded->Get(EurekaFormat::kXml);
    } else {
      WriteInstanceXml(out, *e.instance, e.action);
    }
  }
  out += "</application>";
}

}  // namespace

std::string_view ToString(EurekaStatus status) {
  return kStatusNames[static_cast<std::size_t>(status)];
}

std::optional<EurekaStatus> ParseEurekaStatus(std::string_view text) {
  for (std::size_t i = 0; i < std::size(kStatusNames); ++i) {
    if (kStatusNames[i] == text) return static_cast<EurekaStatus>(i);
  }
  return std::nullopt;
}

core::HealthStatus HealthOf(EurekaStatus status) {
  switch (status) {
    case EurekaStatus::kDown:
      return core::HealthStatus::kCritical;
    case EurekaStatus::kStarting:
    case EurekaStatus::kUnknown:
      return core::HealthStatus::kWarning;
    case EurekaStatus::kUp:
    case EurekaStatus::kOutOfService:
      return core::HealthStatus::kPassing;
  }
  return core::HealthStatus::kPassing;
}

std::string ServiceNameOfApp(std::string_view app) {
  std::string out(app);
  for (char& c : out) c = Lower(c);
  return out;
}

std::string AppOfService(std::string_view service) { return Upper(service); }

std::string LeaseCheckId(std::string_view id) {
  return std::string(core::kDefaultCheckPrefix) + std::string(id);
}

Result<EurekaRegistration> DecodeEurekaRegistration(std::string_view body,
                                                    std::string_view path_app) {
  std::size_t first = body.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && body[first] == '<') {
    return Bad(
        "XML registration bodies are not supported; send JSON "
        "(Content-Type: application/json), as the Java and JavaScript clients do");
  }
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  if (doc.HasParseError()) {
    return Bad(std::string("request body is not valid JSON: ") +
               rapidjson::GetParseError_En(doc.GetParseError()) + " (at byte " +
               std::to_string(doc.GetErrorOffset()) + ")");
  }
  const Value* inst = doc.IsObject() ? Member(doc, "instance") : nullptr;
  if (inst == nullptr || !inst->IsObject()) {
    return Bad("request body: expected {\"instance\": {...}} (Eureka's InstanceInfo)");
  }
  std::string instance_id, host, app, ip, status_text;
  for (auto [name, out] : {std::pair{"instanceId", &instance_id},
                           {"hostName", &host},
                           {"app", &app},
                           {"ipAddr", &ip},
                           {"status", &status_text}}) {
    if (auto st = Text(*inst, name, out); !st.ok()) return st;
  }
  // Eureka's checks, in its order and with its messages (ApplicationResource.addInstance).
  const std::string id = instance_id.empty() ? host : instance_id;
  if (id.empty()) return Bad("Missing instanceId");
  if (host.empty()) return Bad("Missing hostname");
  if (ip.empty()) return Bad("Missing ip address");
  if (app.empty()) return Bad("Missing appName");
  if (Upper(app) != Upper(path_app)) {
    return Bad("Mismatched appName, expecting " + Upper(path_app) + " but was " + Upper(app));
  }
  const Value* dc = Member(*inst, "dataCenterInfo");
  if (dc == nullptr || !dc->IsObject()) return Bad("Missing dataCenterInfo");
  std::string datacenter;
  if (auto st = Text(*dc, "name", &datacenter); !st.ok()) return st;
  if (datacenter.empty()) return Bad("Missing dataCenterInfo Name");
  if (id.find('/') != std::string::npos) {
    return Bad("instanceId: must not contain '/' (it is a path segment), got \"" + id + "\"");
  }

  EurekaRegistration out;
  if (!status_text.empty()) {
    auto status = ParseEurekaStatus(status_text);
    if (!status) {
      return Bad(
          "instance.status: expected UP, DOWN, STARTING, OUT_OF_SERVICE or UNKNOWN, "
          "got \"" +
          status_text + "\"");
    }
    out.status = *status;
  }
  auto port = DecodePort(*inst, "port", true);
  if (!port.ok()) return port.status();
  auto secure = DecodePort(*inst, "securePort", false);
  if (!secure.ok()) return secure.status();

  std::int64_t duration = kDefaultLeaseSeconds;
  std::int64_t renewal = 30;
  if (const Value* lease = Member(*inst, "leaseInfo")) {
    if (!lease->IsObject()) return Bad("instance.leaseInfo: expected an object");
    for (auto [name, value] :
         {std::pair{"durationInSecs", &duration}, {"renewalIntervalInSecs", &renewal}}) {
      if (const Value* v = Member(*lease, name)) {
        auto n = Integer(*v, std::string("instance.leaseInfo.") + name);
        if (!n.ok()) return n.status();
        // Eureka takes a missing or non-positive duration as its default.
        if (*n > 0) *value = *n;
      }
    }
    if (duration > 10 * 365 * 24 * 3600) {
      return Bad("instance.leaseInfo.durationInSecs: at most ten years, got " +
                 std::to_string(duration));
    }
  }

  std::vector<std::pair<core::Symbol, core::Symbol>> meta;
  if (const Value* m = Member(*inst, "metadata")) {
    if (!m->IsObject()) return Bad("instance.metadata: expected an object of strings");
    for (auto it = m->MemberBegin(); it != m->MemberEnd(); ++it) {
      std::string key(it->name.GetString(), it->name.GetStringLength());
      // Java's empty map says so with a class name, which is no metadata.
      if (key == "@class") continue;
      if (key.starts_with(kMetaPrefix)) {
        return Bad("instance.metadata." + key +
                   ": keys starting with \"eureka-\" are "
                   "reserved for Eureka's own fields (docs/eureka.md)");
      }
      std::string value;
      if (auto st = Text(*m, key, &value); !st.ok()) return st;
      if (!ValidUtf8(key)) return Bad("instance.metadata: a key is not valid UTF-8");
      meta.emplace_back(key, value);
    }
  }
  auto keep = [&](std::string_view key, const std::string& value) {
    if (!value.empty()) meta.emplace_back(key, value);
  };
  keep(kMetaApp, app);
  if (host != ip) keep(kMetaHostName, host);
  std::string text;
  for (auto [name, key] : {std::pair{"vipAddress", kMetaVip},
                           {"secureVipAddress", kMetaSecureVip},
                           {"homePageUrl", kMetaHomePage},
                           {"statusPageUrl", kMetaStatusPage},
                           {"healthCheckUrl", kMetaHealthCheck},
                           {"secureHealthCheckUrl", kMetaSecureHealthCheck},
                           {"lastDirtyTimestamp", kMetaDirty}}) {
    text.clear();
    if (auto st = Text(*inst, name, &text); !st.ok()) return st;
    keep(key, text);
  }
  if (port->given && !port->enabled) keep(kMetaPortEnabled, "false");
  if (secure->given && secure->enabled) keep(kMetaSecurePort, std::to_string(secure->number));
  if (datacenter != "MyOwn") keep(kMetaDataCenter, datacenter);
  if (renewal != 30) keep(kMetaRenewal, std::to_string(renewal));
  std::sort(meta.begin(), meta.end());
  for (std::size_t i = 1; i < meta.size(); ++i) {
    if (meta[i - 1].first == meta[i].first) {
      return Bad("instance.metadata: key \"" + meta[i].first.str() + "\" is given twice");
    }
  }

  core::RegisterService& cmd = out.command;
  cmd.service.id = id;
  cmd.service.name = ServiceNameOfApp(app);
  cmd.service.address = ip;
  // Consul has one port: the plain one, or the secure one when only that is enabled.
  cmd.service.port =
      static_cast<std::uint16_t>(!port->enabled && secure->enabled ? secure->number : port->number);
  cmd.service.meta = meta;
  core::CheckDefinition lease;
  lease.id = LeaseCheckId(id);
  lease.name = "Eureka lease";
  lease.kind = core::CheckKind::kTtl;
  lease.ttl = std::chrono::seconds(duration);
  lease.initial_status = HealthOf(out.status);
  cmd.checks.push_back(std::move(lease));
  return out;
}

bool LeaseExpired(const core::Instance& instance) {
  for (const core::Check& c : instance.checks) {
    if (c.definition.kind == core::CheckKind::kTtl && c.definition.ttl > core::Duration::zero() &&
        c.status == core::HealthStatus::kCritical && c.output.starts_with("TTL expired")) {
      return true;
    }
  }
  return false;
}

EurekaStatus StatusOf(const core::Instance& instance) {
  if (MaintenanceCheck(instance) != nullptr) return EurekaStatus::kOutOfService;
  switch (instance.AggregateStatus()) {
    case core::HealthStatus::kPassing:
      return EurekaStatus::kUp;
    case core::HealthStatus::kWarning:
      return EurekaStatus::kStarting;
    case core::HealthStatus::kCritical:
      return EurekaStatus::kDown;
  }
  return EurekaStatus::kUnknown;
}

EurekaStatus OverriddenStatusOf(const core::Instance& instance) {
  if (const core::Check* m = MaintenanceCheck(instance);
      m != nullptr && m->definition.notes.view().starts_with(kOverridePrefix)) {
    return EurekaStatus::kOutOfService;
  }
  const core::Check* lease = LeaseCheck(instance);
  if (lease != nullptr && lease->output.starts_with(kOverridePrefix)) {
    return ParseEurekaStatus(lease->output.view().substr(kOverridePrefix.size()))
        .value_or(EurekaStatus::kUnknown);
  }
  return EurekaStatus::kUnknown;
}

std::string VipAddressOf(const core::Instance& instance) {
  return std::string(MetaValue(instance, kMetaVip).value_or(instance.service.name.view()));
}

std::string SecureVipAddressOf(const core::Instance& instance) {
  return std::string(MetaValue(instance, kMetaSecureVip).value_or(""));
}

bool HasVip(std::string_view list, std::string_view vip) {
  while (!list.empty()) {
    std::size_t comma = list.find(',');
    if (list.substr(0, comma) == vip) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

std::string AppsHashcode(const std::array<std::uint32_t, 5>& counts) {
  std::string out;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] == 0) continue;
    out += kStatusNames[i];
    out += '_';
    out += std::to_string(counts[i]);
    out += '_';
  }
  return out;
}

EurekaFormat FormatOf(std::optional<std::string_view> accept) {
  return accept && accept->find("json") != std::string_view::npos ? EurekaFormat::kJson
                                                                  : EurekaFormat::kXml;
}

std::string_view ContentType(EurekaFormat format) {
  return format == EurekaFormat::kJson ? "application/json" : "application/xml";
}

std::string EncodeApplications(const std::vector<EurekaApp>& apps, std::uint64_t version,
                               std::string_view hashcode, EurekaFormat format) {
  if (format == EurekaFormat::kXml) {
    std::string out = "<applications>";
    Element(out, "versions__delta", std::to_string(version));
    Element(out, "apps__hashcode", hashcode);
    for (const EurekaApp& app : apps) WriteApplicationXml(out, app);
    out += "</applications>";
    return out;
  }
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  Key(w, "applications");
  w.StartObject();
  StrField(w, "versions__delta", std::to_string(version));
  StrField(w, "apps__hashcode", hashcode);
  Key(w, "application");
  w.StartArray();
  for (const EurekaApp& app : apps) WriteApplicationJson(w, app);
  w.EndArray();
  w.EndObject();
  w.EndObject();
  return Done(buf);
}

std::string EncodeApplication(const EurekaApp& app, EurekaFormat format) {
  if (format == EurekaFormat::kXml) {
    std::string out;
    WriteApplicationXml(out, app);
    return out;
  }
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  Key(w, "application");
  WriteApplicationJson(w, app);
  w.EndObject();
  return Done(buf);
}

std::string_view EncodedInstance::Get(EurekaFormat format) const {
  const std::size_t i = format == EurekaFormat::kJson ? 0 : 1;
  std::call_once(once_[i], [&] {
    if (format == EurekaFormat::kXml) {
      WriteInstanceXml(text_[i], *instance_, ActionType::kAdded);
      return;
    }
    rapidjson::StringBuffer buf;
    Writer w(buf);
    WriteInstanceJson(w, *instance_, ActionType::kAdded);
    text_[i] = Done(buf);
  });
  return text_[i];
}

std::string EncodeInstance(const core::Instance& instance, EurekaFormat format) {
  if (format == EurekaFormat::kXml) {
    std::string out;
    WriteInstanceXml(out, instance, ActionType::kAdded);
    return out;
  }
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  Key(w, "instance");
  WriteInstanceJson(w, instance, ActionType::kAdded);
  w.EndObject();
  return Done(buf);
}

}  // namespace concierge::http
