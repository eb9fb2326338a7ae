#include "dns_test_util.h"

#include <arpa/inet.h>

namespace concierge::dns::testing {

namespace {

void Put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}

class Reader {
 public:
  explicit Reader(const std::vector<std::uint8_t>& b) : b_(b) {}
  bool ok() const { return ok_; }
  std::size_t pos() const { return pos_; }
  void Skip(std::size_t n) { Need(n) ? pos_ += n : 0; }
  bool Need(std::size_t n) {
    if (pos_ + n > b_.size()) ok_ = false;
    return ok_;
  }
  std::uint16_t U16() {
    if (!Need(2)) return 0;
    std::uint16_t v = static_cast<std::uint16_t>(b_[pos_] << 8 | b_[pos_ + 1]);
    pos_ += 2;
    return v;
  }
  std::uint32_t U32() {
    std::uint32_t hi = U16();
    return hi << 16 | U16();
  }
  std::string NameAt(std::size_t* at) {
    std::string out;
    std::size_t p = *at;
    bool jumped = false;
    for (int hops = 0; hops < 64; ++hops) {
      if (p >= b_.size()) break;
      std::uint8_t len = b_[p];
      if ((len & 0xC0) == 0xC0) {
        if (p + 1 >= b_.size()) break;
        if (!jumped) *at = p + 2;
        jumped = true;
        p = static_cast<std::size_t>(len & 0x3F) << 8 | b_[p + 1];
        continue;
      }
      if (len == 0) {
        if (!jumped) *at = p + 1;
        return out;
      }
      if (p + 1 + len > b_.size()) break;
      if (!out.empty()) out += '.';
      out.append(reinterpret_cast<const char*>(&b_[p + 1]), len);
      p += 1 + len;
    }
    ok_ = false;
    return out;
  }
  std::string Name() { return NameAt(&pos_); }
  const std::vector<std::uint8_t>& bytes() const { return b_; }

 private:
  const std::vector<std::uint8_t>& b_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

Record ReadRecord(Reader& r) {
  Record rec;
  rec.name = r.Name();
  rec.type = r.U16();
  rec.rclass = r.U16();
  rec.ttl = r.U32();
  std::uint16_t len = r.U16();
  if (!r.Need(len)) return rec;
  std::size_t start = r.pos();
  const auto& b = r.bytes();
  char text[INET6_ADDRSTRLEN] = {};
  if (rec.type == 1 && len == 4) {
    inet_ntop(AF_INET, &b[start], text, sizeof text);
    rec.data = text;
  } else if (rec.type == 28 && len == 16) {
    inet_ntop(AF_INET6, &b[start], text, sizeof text);
    rec.data = text;
  } else if (rec.type == 5 || rec.type == 2) {
    std::size_t at = start;
    rec.data = r.NameAt(&at);
  } else if (rec.type == 33) {
    std::size_t at = start + 6;
    auto u16 = [&](std::size_t i) { return std::to_string(b[i] << 8 | b[i + 1]); };
    rec.data = u16(start) + " " + u16(start + 2) + " " + u16(start + 4) + " " + r.NameAt(&at);
  } else if (rec.type == 6) {
    std::size_t at = start;
    rec.data = r.NameAt(&at);
    rec.data += " " + r.NameAt(&at);
    for (int i = 0; i < 5; ++i, at += 4) {
      std::uint32_t v = std::uint32_t{b[at]} << 24 | b[at + 1] << 16 | b[at + 2] << 8 | b[at + 3];
      rec.data += " " + std::to_string(v);
    }
  }
  r.Skip(len);
  return rec;
}

}  // namespace

std::vector<std::uint8_t> MakeQuery(std::string_view name, std::uint16_t type,
                                    const QueryOptions& options) {
  std::vector<std::uint8_t> out;
  Put16(out, options.id);
  Put16(out, 0x0100);  // RD
  Put16(out, 1);
  Put16(out, 0);
  Put16(out, 0);
  Put16(out, options.edns_size ? 1 : 0);
  while (!name.empty()) {
    std::size_t dot = name.find('.');
    std::string_view label = name.substr(0, dot);
    out.push_back(static_cast<std::uint8_t>(label.size()));
    out.insert(out.end(), label.begin(), label.end());
    name = dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1);
  }
  out.push_back(0);
  Put16(out, type);
  Put16(out, options.qclass);
  if (options.edns_size) {
    out.push_back(0);
    Put16(out, 41);
    Put16(out, *options.edns_size);
    out.push_back(0);
    out.push_back(options.edns_version);
    Put16(out, options.dnssec_ok ? 0x8000 : 0);
    Put16(out, 0);
  }
  return out;
}

const Record* Response::opt() const {
  for (const Record& r : additional) {
    if (r.type == 41) return &r;
  }
  return nullptr;
}

std::optional<Response> Decode(const std::vector<std::uint8_t>& bytes) {
  Reader r(bytes);
  Response res;
  res.id = r.U16();
  res.flags = r.U16();
  res.rcode = res.flags & 0xF;
  std::uint16_t qd = r.U16(), an = r.U16(), ns = r.U16(), ar = r.U16();
  if (qd > 1) return std::nullopt;
  if (qd == 1) {
    res.question = r.Name();
    res.qtype = r.U16();
    r.U16();
  }
  for (int i = 0; i < an; ++i) res.answer.push_back(ReadRecord(r));
  for (int i = 0; i < ns; ++i) res.authority.push_back(ReadRecord(r));
  for (int i = 0; i < ar; ++i) res.additional.push_back(ReadRecord(r));
  if (!r.ok() || r.pos() != bytes.size()) return std::nullopt;
  if (const Record* opt = res.opt()) res.rcode |= (opt->ttl >> 24) << 4;
  return res;
}

}  // namespace concierge::dns::testing
