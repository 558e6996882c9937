#include "processors/region_table.h"

#include <algorithm>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "fmt/format.h"
#include "fmt/ranges.h"
#include "processors/internal/load.h"
#include "toml++/toml.h"

namespace roadpulse {
namespace {

absl::StatusOr<RegionKind> ParseKind(std::string_view kind) {
  if (kind == "district") return RegionKind::kDistrict;
  if (kind == "county") return RegionKind::kCounty;
  if (kind == "county_city") return RegionKind::kCountyCity;
  if (kind == "zone") return RegionKind::kZone;
  if (kind == "township") return RegionKind::kTownship;
  if (kind == "street") return RegionKind::kStreet;
  return absl::InvalidArgumentError(fmt::format(
      "unknown kind \"{}\" (expected district, county, county_city, zone, township or street)",
      kind));
}

bool IsTownshipLevel(RegionKind kind) {
  return kind == RegionKind::kTownship || kind == RegionKind::kStreet;
}

// Rejects keys of `table` not in `allowed`: a mistyped key is an error, never ignored.
absl::Status CheckKeys(const toml::table& table, std::initializer_list<std::string_view> allowed,
                       std::string_view where) {
  for (const auto& [key, value] : table) {
    bool known = false;
    for (std::string_view a : allowed) known = known || key.str() == a;
    if (!known) {
      return absl::InvalidArgumentError(fmt::format("{}: unknown key \"{}\" (allowed: {})", where,
                                                    key.str(), fmt::join(allowed, ", ")));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> RequiredString(const toml::table& table, std::string_view key,
                                           std::string_view where) {
  const toml::node* node = table.get(key);
  if (node == nullptr) {
    return absl::InvalidArgumentError(fmt::format("{}: missing key \"{}\"", where, key));
  }
  std::optional<std::string> value = node->value<std::string>();
  if (!value.has_value() || value->empty()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: key \"{}\" must be a non-empty string", where, key));
  }
  return *value;
}

std::string OptionalString(const toml::table& table, std::string_view key) {
  return table[key].value_or(std::string());
}

}  // namespace

absl::StatusOr<RegionTable> RegionTable::LoadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(fmt::format("region table {}: cannot open file", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return LoadString(buffer.str(), path);
}

absl::StatusOr<RegionTable> RegionTable::LoadString(std::string_view text,
                                                    std::string_view source_name) {
  const std::string src(source_name);
  auto err = [&src](std::string_view what) {
    return absl::InvalidArgumentError(fmt::format("region table {}: {}", src, what));
  };
  toml::table root;
  try {
    root = toml::parse(text, src);
  } catch (const toml::parse_error& e) {
    return err(fmt::format("line {}: {}", e.source().begin.line, e.description()));
  }
  if (absl::Status s = CheckKeys(root, {"time_zone", "city", "main_urban", "units"}, "top level");
      !s.ok()) {
    return err(std::string(s.message()));
  }

  RegionTable table;
  table.time_zone_ = root["time_zone"].value_or(std::string("Asia/Shanghai"));
  if (!absl::LoadTimeZone(table.time_zone_, &table.zone_)) {
    return err(fmt::format("unknown time_zone \"{}\"", table.time_zone_));
  }

  auto read_named = [&](const toml::table& t, std::string_view where, Region* r) -> absl::Status {
    absl::StatusOr<std::string> code = RequiredString(t, "code", where);
    if (!code.ok()) return code.status();
    absl::StatusOr<std::string> zh = RequiredString(t, "name_zh", where);
    if (!zh.ok()) return zh.status();
    r->code = *code;
    r->name_zh = *zh;
    r->name_pinyin = OptionalString(t, "name_pinyin");
    r->name_en = OptionalString(t, "name_en");
    if (r->name_en.empty()) r->name_en = r->name_pinyin.empty() ? r->name_zh : r->name_pinyin;
    return absl::OkStatus();
  };

  const toml::table* city = root["city"].as_table();
  if (city == nullptr) return err("missing [city] table");
  if (absl::Status s = CheckKeys(*city, {"code", "name_zh", "name_pinyin", "name_en"}, "[city]");
      !s.ok()) {
    return err(std::string(s.message()));
  }
  Region city_region;
  city_region.kind = RegionKind::kCity;
  if (absl::Status s = read_named(*city, "[city]", &city_region); !s.ok())
    return err(std::string(s.message()));
  table.regions_.push_back(std::move(city_region));

  Region main_region;
  main_region.kind = RegionKind::kMainUrban;
  main_region.main_urban = true;
  if (const toml::table* main = root["main_urban"].as_table(); main != nullptr) {
    if (absl::Status s =
            CheckKeys(*main, {"code", "name_zh", "name_pinyin", "name_en"}, "[main_urban]");
        !s.ok()) {
      return err(std::string(s.message()));
    }
    if (absl::Status s = read_named(*main, "[main_urban]", &main_region); !s.ok()) {
      return err(std::string(s.message()));
    }
  } else {
    main_region.code = table.regions_[0].code + "-main";
    main_region.name_zh = "主城区";
    main_region.name_pinyin = "Zhuchengqu";
    main_region.name_en = "Main urban area";
  }
  main_region.index = 1;
  table.regions_.push_back(std::move(main_region));
  table.AddCode(table.regions_[0].code, 0);
  if (!table.AddCode(table.regions_[1].code, 1)) {
    return err("[main_urban] code equals the city's code");
  }

  const toml::array* units = root["units"].as_array();
  if (units == nullptr || units->empty()) return err("no [[units]]");
  // main_urban as written (nullopt = inherit), resolved after all units are read.
  std::vector<std::optional<bool>> stated_main;
  size_t n = 0;
  for (const toml::node& node : *units) {
    ++n;
    const std::string where = fmt::format("[[units]] #{}", n);
    const toml::table* t = node.as_table();
    if (t == nullptr) return err(fmt::format("{}: not a table", where));
    if (absl::Status s = CheckKeys(
            *t, {"code", "name_zh", "name_pinyin", "name_en", "parent", "kind", "main_urban"},
            where);
        !s.ok()) {
      return err(std::string(s.message()));
    }
    Region r;
    if (absl::Status s = read_named(*t, where, &r); !s.ok()) return err(std::string(s.message()));
    absl::StatusOr<std::string> parent = RequiredString(*t, "parent", where);
    if (!parent.ok()) return err(std::string(parent.status().message()));
    r.parent = *parent;
    absl::StatusOr<std::string> kind_name = RequiredString(*t, "kind", where);
    if (!kind_name.ok()) return err(std::string(kind_name.status().message()));
    absl::StatusOr<RegionKind> kind = ParseKind(*kind_name);
    if (!kind.ok())
      return err(fmt::format("{} ({}): {}", where, r.code, std::string(kind.status().message())));
    r.kind = *kind;
    const toml::node* main_node = t->get("main_urban");
    if (main_node != nullptr && !main_node->is_boolean()) {
      return err(fmt::format("{} ({}): main_urban must be true or false", where, r.code));
    }
    stated_main.push_back(main_node ? main_node->value<bool>() : std::nullopt);
    if (table.regions_.size() >= 0xFFFF) return err("too many units (at most 65534)");
    r.index = static_cast<uint16_t>(table.regions_.size());
    if (!table.AddCode(r.code, r.index)) {
      return err(fmt::format("{}: duplicate code \"{}\"", where, r.code));
    }
    table.regions_.push_back(std::move(r));
  }

  // Parents: county-level units hang under the city, townships under a county-level unit.
  for (size_t i = 2; i < table.regions_.size(); ++i) {
    Region& r = table.regions_[i];
    const Region* parent = table.Find(r.parent);
    if (parent == nullptr || parent->kind == RegionKind::kMainUrban) {
      return err(fmt::format("unit {}: unknown parent \"{}\"", r.code, r.parent));
    }
    if (IsTownshipLevel(r.kind)) {
      if (parent->kind == RegionKind::kCity || IsTownshipLevel(parent->kind)) {
        return err(
            fmt::format("unit {}: a township or street must have a county-level parent, not {}",
                        r.code, r.parent));
      }
    } else if (parent->kind != RegionKind::kCity) {
      return err(
          fmt::format("unit {}: a county-level unit must have the city ({}) as parent, not {}",
                      r.code, table.regions_[0].code, r.parent));
    }
  }
  // Effective main-urban membership: stated, else inherited from the parent
  // (county-level units default to false). County-level units first, so that
  // townships can inherit whatever the file order.
  for (bool townships : {false, true}) {
    for (size_t i = 2; i < table.regions_.size(); ++i) {
      Region& r = table.regions_[i];
      if (IsTownshipLevel(r.kind) != townships) continue;
      const std::optional<bool>& stated = stated_main[i - 2];
      if (stated.has_value()) {
        r.main_urban = *stated;
      } else {
        r.main_urban = townships && table.Find(r.parent)->main_urban;
      }
    }
  }
  return table;
}

RegionTable::ShortKey RegionTable::ShortKeyOf(std::string_view code) {
  ShortKey key;
  const size_t n = code.size();
  key.size = static_cast<uint32_t>(n);
  const char* p = code.data();
  // The first 8 bytes and the rest, each as a little-endian integer.
  processors_internal::LoadPartial128(p, n, &key.lo, &key.hi);
  return key;
}

size_t RegionTable::ShortSlot(const ShortKey& key) const {
  const size_t mask = short_.size() - 1;
  const uint64_t h = (key.lo ^ (key.hi << 29 | key.hi >> 35) ^ key.size) * 0x9E3779B97F4A7C15ULL;
  for (size_t i = static_cast<size_t>(h >> 32) & mask;; i = (i + 1) & mask) {
    const ShortKey& s = short_[i];
    if (s.size == 0 || (s.lo == key.lo && s.hi == key.hi && s.size == key.size)) return i;
  }
}

bool RegionTable::AddCode(const std::string& code, uint16_t index) {
  if (code.empty() || code.size() > kShortMax) return by_code_.emplace(code, index).second;
  if (2 * (short_count_ + 1) > short_.size()) {
    std::vector<ShortKey> old = std::move(short_);
    short_.assign(std::max<size_t>(16, 2 * old.size()), ShortKey{});
    for (const ShortKey& k : old) {
      if (k.size != 0) short_[ShortSlot(k)] = k;
    }
  }
  ShortKey key = ShortKeyOf(code);
  key.index = index;
  ShortKey& slot = short_[ShortSlot(key)];
  if (slot.size != 0) return false;
  slot = key;
  ++short_count_;
  return true;
}

const Region* RegionTable::Find(std::string_view code) const {
  if (!code.empty() && code.size() <= kShortMax) {
    if (short_.empty()) return nullptr;
    const ShortKey& slot = short_[ShortSlot(ShortKeyOf(code))];
    return slot.size == 0 ? nullptr : &regions_[slot.index];
  }
  auto it = by_code_.find(absl::string_view(code.data(), code.size()));
  return it == by_code_.end() ? nullptr : &regions_[it->second];
}

namespace {

// `name` starts with `text`, ASCII letters in any case. (Debian's Abseil
// has its own string_view, not std::string_view.)
bool StartsWithIgnoringCase(std::string_view name, std::string_view text) {
  return absl::StartsWithIgnoreCase(absl::string_view(name.data(), name.size()),
                                    absl::string_view(text.data(), text.size()));
}

// Characters (code points) of UTF-8 text.
size_t CharCount(std::string_view text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

// `text` without the white space around it: ASCII, and the no-break and
// ideographic spaces that copied text and Chinese input methods bring.
std::string_view TrimSpace(std::string_view text) {
  constexpr std::string_view kSpaces[] = {" ", "\t", "\n", "\r", "\v", "\f", "\u00a0", "\u3000"};
  auto at_front = [&]() -> size_t {
    for (std::string_view space : kSpaces) {
      if (text.substr(0, space.size()) == space) return space.size();
    }
    return 0;
  };
  auto at_back = [&]() -> size_t {
    for (std::string_view space : kSpaces) {
      if (text.size() >= space.size() && text.substr(text.size() - space.size()) == space) {
        return space.size();
      }
    }
    return 0;
  };
  while (const size_t n = at_front()) text.remove_prefix(n);
  while (const size_t n = at_back()) text.remove_suffix(n);
  return text;
}

// `text` as an error message repeats it: its first kMaxEcho characters (then
// "…"), control characters as '?', so that a long or odd query parameter
// cannot fill or break the answer.
std::string Echo(std::string_view text) {
  constexpr size_t kMaxEcho = 40;
  std::string out;
  size_t chars = 0;
  for (const char c : text) {
    const bool starts_char = (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    if (starts_char && ++chars > kMaxEcho) return out + "…";
    const unsigned char u = static_cast<unsigned char>(c);
    out += u < 0x20 || u == 0x7f ? '?' : c;
  }
  return out;
}

std::string Listed(const std::vector<const Region*>& regions) {
  std::string out;
  for (const Region* r : regions) {
    fmt::format_to(std::back_inserter(out), "{}{} {}", out.empty() ? "" : ", ", r->code,
                   r->name_zh);
  }
  return out;
}

}  // namespace

absl::StatusOr<const Region*> RegionTable::Resolve(std::string_view text) const {
  text = TrimSpace(text);
  if (const Region* r = Find(text); r != nullptr) return r;
  // Each test in turn over every region; the first that any region passes
  // decides.
  const std::vector<std::function<bool(const Region&)>> tests = {
      [&](const Region& r) {
        return r.name_zh == text ||
               (text.size() == r.name_en.size() && StartsWithIgnoringCase(r.name_en, text)) ||
               (text.size() == r.name_pinyin.size() && StartsWithIgnoringCase(r.name_pinyin, text));
      },
      [&](const Region& r) {
        auto word_prefix = [&](const std::string& name) {
          return StartsWithIgnoringCase(name, text) &&
                 (text.size() == name.size() || name[text.size()] == ' ');
        };
        return CharCount(text) >= 2 && (r.name_zh.compare(0, text.size(), text) == 0 ||
                                        word_prefix(r.name_en) || word_prefix(r.name_pinyin));
      },
      [&](const Region& r) {
        return CharCount(text) >= 2 && text.size() > CharCount(text) &&  // not ASCII
               r.name_zh.find(text) != std::string::npos;
      },
  };
  for (const auto& test : tests) {
    std::vector<const Region*> fits;
    for (const Region& r : regions_) {
      if (test(r)) fits.push_back(&r);
    }
    if (fits.size() == 1) return fits[0];
    if (fits.size() > 1) {
      return absl::InvalidArgumentError(
          fmt::format("\"{}\" names {} regions: {}; give a code or a full name", Echo(text),
                      fits.size(), Listed(fits)));
    }
  }
  return absl::NotFoundError(fmt::format(
      "unknown region \"{}\": not a code or name in the region table; the city is {} {}, the "
      "main urban area {} {}, the county-level units {} (townships by their code or name)",
      Echo(text), city().code, city().name_zh, main_urban().code, main_urban().name_zh,
      Listed(Counties())));
}

std::vector<const Region*> RegionTable::Counties() const { return Children(city().code); }

std::vector<const Region*> RegionTable::Children(std::string_view code) const {
  std::vector<const Region*> out;
  for (size_t i = 2; i < regions_.size(); ++i) {
    if (regions_[i].parent == code) out.push_back(&regions_[i]);
  }
  return out;
}

std::vector<const Region*> RegionTable::UnitsOf(std::string_view code) const {
  std::vector<const Region*> out;
  const Region* region = Find(code);
  if (region == nullptr) return out;
  for (size_t i = 2; i < regions_.size(); ++i) {
    const Region& r = regions_[i];
    bool in = false;
    switch (region->kind) {
      case RegionKind::kCity:
        in = true;
        break;
      case RegionKind::kMainUrban:
        in = r.main_urban;
        break;
      case RegionKind::kDistrict:
      case RegionKind::kCounty:
      case RegionKind::kCountyCity:
      case RegionKind::kZone:
        in = r.code == region->code || r.parent == region->code;
        break;
      case RegionKind::kTownship:
      case RegionKind::kStreet:
        in = r.code == region->code;
        break;
    }
    if (in) out.push_back(&r);
  }
  return out;
}

const Region* RegionTable::CountingUnit(std::string_view county_code,
                                        std::string_view township_code) const {
  if (!township_code.empty()) {
    // One lookup: the loader made every township-level unit's parent a
    // county-level unit, so a township whose parent is county_code is all
    // that county_code must be.
    const Region* township = Find(township_code);
    if (township == nullptr || !IsTownshipLevel(township->kind) ||
        township->parent != county_code) {
      return nullptr;
    }
    return township;
  }
  const Region* county = Find(county_code);
  if (county == nullptr || county->kind == RegionKind::kCity ||
      county->kind == RegionKind::kMainUrban || IsTownshipLevel(county->kind)) {
    return nullptr;
  }
  return county;
}

}  // namespace roadpulse
