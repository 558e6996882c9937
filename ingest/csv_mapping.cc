#include "ingest/csv_mapping.h"

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

#include "absl/time/civil_time.h"
#include "fmt/format.h"
#include "fmt/ranges.h"
#include "ingest/internal/utf8.h"
#include "toml++/toml.h"

namespace roadpulse {
namespace ingest_internal {

// A test on the values of one or more columns.
struct Condition {
  std::vector<int> slots;  // the columns (any of them may satisfy the test)
  enum class Op { kEquals, kIn, kAtLeast } op = Op::kEquals;
  std::string equals;
  absl::flat_hash_set<std::string> in;
  double at_least = 0;
  std::string where;  // "[flags.alcohol]", for reasons
};

struct Rule {
  int value = 0;  // a v1::Handling or v1::Severity
  Condition condition;
};

// One element of a time format: a literal byte or a numeric directive.
struct FormatPart {
  char directive = 0;  // 'Y', 'm', 'd', 'H', 'M', 'S', or 0 for a literal
  char literal = 0;
};

struct MappingSpec {
  std::string source_name;
  char delimiter = ',';
  bool casualty_rows = false;
  std::vector<std::string> column_names;  // slot -> column name
  std::vector<std::string> column_keys;   // slot -> the mapping key that named it
  absl::flat_hash_set<std::string> unknown_all;
  absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>> unknown_by_column;
  std::vector<const absl::flat_hash_set<std::string>*> unknown_by_slot;  // filled at the end

  int id_slot = -1;
  bool id_row_number = false;
  std::string id_prefix;
  bool id_prefix_given = false;

  int time_slot = -1;
  std::string time_format;
  std::vector<FormatPart> format_parts;
  int year_slot = -1, month_slot = -1, day_slot = -1, hour_slot = -1, minute_slot = -1;
  std::optional<int> default_hour;
  std::string time_zone;

  int region_slot = -1;
  std::optional<std::pair<std::string, std::string>> region_default;  // (county, township)
  bool has_region_map = false;
  absl::flat_hash_map<std::string, std::pair<std::string, std::string>> region_map;

  int deaths_slot = -1, injuries_slot = -1, loss_slot = -1;
  std::optional<Condition> casualty_death, casualty_injury;

  v1::Handling handling_default = v1::HANDLING_ORDINARY_PROCEDURE;
  std::vector<Rule> handling_rules;
  v1::Severity severity_default = v1::SEVERITY_GENERAL;
  std::vector<Rule> severity_rules;
  v1::RoadClass road_default = v1::ROAD_CLASS_UNSPECIFIED;
  std::vector<Rule> road_rules;
  std::optional<Condition> alcohol;
  std::vector<std::pair<v1::VehicleCategory, Condition>> vehicle_flags;

  int Slot(const std::string& column, std::string key) {
    for (size_t i = 0; i < column_names.size(); ++i) {
      if (column_names[i] == column) return static_cast<int>(i);
    }
    column_names.push_back(column);
    column_keys.push_back(std::move(key));
    return static_cast<int>(column_names.size() - 1);
  }
};

}  // namespace ingest_internal

namespace {

using ingest_internal::Condition;
using ingest_internal::FormatPart;
using ingest_internal::MappingSpec;
using ingest_internal::Rule;

constexpr std::pair<std::string_view, v1::VehicleCategory> kVehicleFlags[] = {
    {"low_speed_electric_tricycle", v1::VEHICLE_CATEGORY_LOW_SPEED_ELECTRIC_TRICYCLE},
    {"low_speed_electric_quadricycle", v1::VEHICLE_CATEGORY_LOW_SPEED_ELECTRIC_QUADRICYCLE},
    {"electric_bicycle", v1::VEHICLE_CATEGORY_ELECTRIC_BICYCLE},
    {"car", v1::VEHICLE_CATEGORY_CAR},
    {"truck", v1::VEHICLE_CATEGORY_TRUCK},
    {"bus", v1::VEHICLE_CATEGORY_BUS},
    {"motorcycle", v1::VEHICLE_CATEGORY_MOTORCYCLE},
    {"bicycle", v1::VEHICLE_CATEGORY_BICYCLE},
    {"pedestrian", v1::VEHICLE_CATEGORY_PEDESTRIAN},
    {"agricultural", v1::VEHICLE_CATEGORY_AGRICULTURAL},
    {"other_vehicle", v1::VEHICLE_CATEGORY_OTHER},
};

constexpr std::pair<std::string_view, v1::Handling> kHandlings[] = {
    {"on_site", v1::HANDLING_ON_SITE},
    {"simple", v1::HANDLING_SIMPLE_PROCEDURE},
    {"ordinary", v1::HANDLING_ORDINARY_PROCEDURE},
    {"video", v1::HANDLING_VIDEO_QUICK},
};

// The road classes, as Location.road_class (township_village: 农村道路).
constexpr std::pair<std::string_view, v1::RoadClass> kRoadClasses[] = {
    {"expressway", v1::ROAD_CLASS_EXPRESSWAY},
    {"national", v1::ROAD_CLASS_NATIONAL},
    {"provincial", v1::ROAD_CLASS_PROVINCIAL},
    {"county", v1::ROAD_CLASS_COUNTY},
    {"township_village", v1::ROAD_CLASS_TOWNSHIP_VILLAGE},
    {"urban_street", v1::ROAD_CLASS_URBAN_STREET},
    {"other", v1::ROAD_CLASS_OTHER},
};

constexpr std::pair<std::string_view, v1::Severity> kSeverities[] = {
    {"minor", v1::SEVERITY_MINOR},
    {"general", v1::SEVERITY_GENERAL},
    {"serious", v1::SEVERITY_SERIOUS},
    {"catastrophic", v1::SEVERITY_CATASTROPHIC},
};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Loading: every problem names the mapping file and the key.
class Loader {
 public:
  Loader(std::string source, const RegionTable& regions, MappingSpec* spec)
      : source_(std::move(source)), regions_(regions), spec_(*spec) {}

  absl::Status Error(std::string_view where, std::string_view what) const {
    return absl::InvalidArgumentError(fmt::format("mapping {}: {}: {}", source_, where, what));
  }

  absl::Status CheckKeys(const toml::table& t, std::initializer_list<std::string_view> allowed,
                         std::string_view where) const {
    for (const auto& [key, value] : t) {
      bool known = false;
      for (std::string_view a : allowed) known = known || key.str() == a;
      if (!known) {
        return Error(where, fmt::format("unknown key \"{}\" (allowed: {})", key.str(),
                                        fmt::join(allowed, ", ")));
      }
    }
    return absl::OkStatus();
  }

  const toml::table* Table(const toml::table& parent, std::string_view key,
                           std::string_view where, absl::Status* st) const {
    const toml::node* n = parent.get(key);
    if (n == nullptr) return nullptr;
    if (!n->is_table()) {
      *st = Error(where, fmt::format("\"{}\" must be a table", key));
      return nullptr;
    }
    return n->as_table();
  }

  // A string-valued key; integers are accepted and written in decimal.
  absl::StatusOr<std::optional<std::string>> String(const toml::table& t, std::string_view key,
                                                    std::string_view where) const {
    const toml::node* n = t.get(key);
    if (n == nullptr) return std::optional<std::string>();
    if (auto s = n->value<std::string>(); s.has_value() && n->is_string()) return s;
    if (n->is_integer()) return std::optional<std::string>(std::to_string(*n->value<int64_t>()));
    return Error(where, fmt::format("\"{}\" must be a string", key));
  }

  absl::StatusOr<int> Column(const toml::table& t, std::string_view key, std::string_view where,
                             bool required) {
    absl::StatusOr<std::optional<std::string>> s = String(t, key, where);
    if (!s.ok()) return s.status();
    if (!s->has_value() || (*s)->empty()) {
      if (required) return Error(where, fmt::format("missing key \"{}\" (a column name)", key));
      return -1;
    }
    return spec_.Slot(**s, fmt::format("{}.{}", where, key));
  }

  absl::StatusOr<Condition> ParseCondition(const toml::node& node, std::string where) {
    const toml::table* t = node.as_table();
    if (t == nullptr) return Error(where, "must be a table such as { column = \"X\", equals = \"1\" }");
    if (absl::Status s = CheckKeys(*t, {"column", "any_of", "equals", "in", "at_least"}, where);
        !s.ok()) {
      return s;
    }
    Condition c;
    c.where = where;
    const bool has_column = t->contains("column");
    const bool has_any = t->contains("any_of");
    if (has_column == has_any) return Error(where, "give exactly one of \"column\" or \"any_of\"");
    if (has_column) {
      absl::StatusOr<int> slot = Column(*t, "column", where, true);
      if (!slot.ok()) return slot.status();
      c.slots.push_back(*slot);
    } else {
      const toml::array* a = t->get("any_of")->as_array();
      if (a == nullptr || a->empty()) return Error(where, "\"any_of\" must be a non-empty array of column names");
      for (const toml::node& e : *a) {
        std::optional<std::string> name = e.value<std::string>();
        if (!name.has_value() || name->empty()) return Error(where, "\"any_of\" holds column names (strings)");
        c.slots.push_back(spec_.Slot(*name, where + ".any_of"));
      }
    }
    const int ops = t->contains("equals") + t->contains("in") + t->contains("at_least");
    if (ops != 1) return Error(where, "give exactly one of \"equals\", \"in\" or \"at_least\"");
    if (t->contains("equals")) {
      c.op = Condition::Op::kEquals;
      absl::StatusOr<std::optional<std::string>> s = String(*t, "equals", where);
      if (!s.ok()) return s.status();
      c.equals = **s;
    } else if (t->contains("in")) {
      c.op = Condition::Op::kIn;
      const toml::array* a = t->get("in")->as_array();
      if (a == nullptr || a->empty()) return Error(where, "\"in\" must be a non-empty array");
      for (const toml::node& e : *a) {
        if (e.is_string()) {
          c.in.insert(*e.value<std::string>());
        } else if (e.is_integer()) {
          c.in.insert(std::to_string(*e.value<int64_t>()));
        } else {
          return Error(where, "\"in\" holds strings or integers");
        }
      }
    } else {
      c.op = Condition::Op::kAtLeast;
      std::optional<double> v = t->get("at_least")->value<double>();
      if (!v.has_value()) return Error(where, "\"at_least\" must be a number");
      c.at_least = *v;
    }
    return c;
  }

  template <typename E, size_t N>
  absl::StatusOr<E> EnumName(const std::pair<std::string_view, E> (&names)[N],
                             const std::string& value, std::string_view where) const {
    std::vector<std::string_view> allowed;
    for (const auto& [n, e] : names) {
      if (n == value) return e;
      allowed.push_back(n);
    }
    return Error(where, fmt::format("\"{}\" is not one of {}", value, fmt::join(allowed, ", ")));
  }

  // [handling] or [severity]: default + [[X.when]] rules.
  template <typename E, size_t N>
  absl::Status ParseChoice(const toml::table& root, std::string_view key,
                           const std::pair<std::string_view, E> (&names)[N], E* def,
                           std::vector<Rule>* rules) {
    absl::Status st;
    const toml::table* t = Table(root, key, "top level", &st);
    if (!st.ok() || t == nullptr) return st;
    const std::string where = fmt::format("[{}]", key);
    if (absl::Status s = CheckKeys(*t, {"default", "when"}, where); !s.ok()) return s;
    if (std::optional<std::string> d = (*t)["default"].value<std::string>(); d.has_value()) {
      absl::StatusOr<E> e = EnumName(names, *d, where + ".default");
      if (!e.ok()) return e.status();
      *def = *e;
    } else if (t->contains("default")) {
      return Error(where, "\"default\" must be a string");
    }
    if (const toml::node* w = t->get("when"); w != nullptr) {
      const toml::array* a = w->as_array();
      if (a == nullptr) return Error(where, "\"when\" must be an array of tables ([[" + std::string(key) + ".when]])");
      int i = 0;
      for (const toml::node& n : *a) {
        const std::string rw = fmt::format("[[{}.when]] #{}", key, ++i);
        const toml::table* rt = n.as_table();
        if (rt == nullptr) return Error(rw, "must be a table");
        std::optional<std::string> value = (*rt)["value"].value<std::string>();
        if (!value.has_value()) return Error(rw, "missing key \"value\"");
        absl::StatusOr<E> e = EnumName(names, *value, rw + ".value");
        if (!e.ok()) return e.status();
        toml::table cond = *rt;
        cond.erase("value");
        absl::StatusOr<Condition> c = ParseCondition(cond, rw);
        if (!c.ok()) return c.status();
        rules->push_back(Rule{static_cast<int>(*e), *std::move(c)});
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::pair<std::string, std::string>> RegionTarget(const std::string& code,
                                                                   std::string_view where) const {
    const Region* r = regions_.Find(code);
    if (r == nullptr) {
      return Error(where, fmt::format("region code \"{}\" is not in the region table", code));
    }
    switch (r->kind) {
      case RegionKind::kTownship:
      case RegionKind::kStreet:
        return std::make_pair(r->parent, r->code);
      case RegionKind::kDistrict:
      case RegionKind::kCounty:
      case RegionKind::kCountyCity:
      case RegionKind::kZone:
        return std::make_pair(r->code, std::string());
      case RegionKind::kCity:
      case RegionKind::kMainUrban:
        break;
    }
    return Error(where, fmt::format("region code \"{}\" is not a county-level unit or township "
                                    "(events are placed in one)",
                                    code));
  }

  absl::Status Parse(std::string_view text) {
    toml::table root;
    try {
      root = toml::parse(text, source_);
    } catch (const toml::parse_error& e) {
      return absl::InvalidArgumentError(fmt::format("mapping {}: line {}: {}", source_,
                                                    e.source().begin.line, e.description()));
    }
    if (absl::Status s = CheckKeys(root,
                                   {"source", "id", "time", "region", "counts", "casualty",
                                    "handling", "severity", "road", "flags", "unknown"},
                                   "top level");
        !s.ok()) {
      return s;
    }
    absl::Status st;
    // [source]
    if (const toml::table* t = Table(root, "source", "top level", &st); t != nullptr) {
      if (absl::Status s = CheckKeys(*t, {"description", "delimiter", "rows", "unknown_values"},
                                     "[source]");
          !s.ok()) {
        return s;
      }
      if (const toml::node* d = t->get("delimiter"); d != nullptr) {
        std::optional<std::string> v = d->value<std::string>();
        if (!v.has_value() || v->size() != 1 || (*v)[0] == '"' || (*v)[0] == '\n') {
          return Error("[source].delimiter", "must be one character (not a quote or newline)");
        }
        spec_.delimiter = (*v)[0];
      }
      if (const toml::node* r = t->get("rows"); r != nullptr) {
        std::optional<std::string> v = r->value<std::string>();
        if (v == "accident") {
          spec_.casualty_rows = false;
        } else if (v == "casualty") {
          spec_.casualty_rows = true;
        } else {
          return Error("[source].rows", "must be \"accident\" (one row per accident) or "
                                        "\"casualty\" (one row per casualty, grouped by [id].column)");
        }
      }
      if (const toml::node* u = t->get("unknown_values"); u != nullptr) {
        const toml::array* a = u->as_array();
        if (a == nullptr) return Error("[source].unknown_values", "must be an array of strings");
        for (const toml::node& e : *a) {
          if (e.is_string()) {
            spec_.unknown_all.insert(*e.value<std::string>());
          } else if (e.is_integer()) {
            spec_.unknown_all.insert(std::to_string(*e.value<int64_t>()));
          } else {
            return Error("[source].unknown_values", "must be an array of strings");
          }
        }
      }
    }
    if (!st.ok()) return st;
    // [unknown]: per-column codes meaning "unknown"
    if (const toml::table* t = Table(root, "unknown", "top level", &st); t != nullptr) {
      for (const auto& [column, value] : *t) {
        const toml::array* a = value.as_array();
        if (a == nullptr) {
          return Error("[unknown]", fmt::format("\"{}\" must be an array of values", column.str()));
        }
        auto& set = spec_.unknown_by_column[std::string(column.str())];
        for (const toml::node& e : *a) {
          if (e.is_string()) {
            set.insert(*e.value<std::string>());
          } else if (e.is_integer()) {
            set.insert(std::to_string(*e.value<int64_t>()));
          } else {
            return Error("[unknown]", fmt::format("\"{}\" holds strings or integers", column.str()));
          }
        }
      }
    }
    if (!st.ok()) return st;
    // [id]
    {
      const toml::table* t = Table(root, "id", "top level", &st);
      if (!st.ok()) return st;
      if (t == nullptr) return Error("top level", "missing table [id] (an id column, or row_number = true)");
      if (absl::Status s = CheckKeys(*t, {"column", "row_number", "prefix"}, "[id]"); !s.ok()) return s;
      spec_.id_row_number = (*t)["row_number"].value_or(false);
      absl::StatusOr<int> slot = Column(*t, "column", "[id]", false);
      if (!slot.ok()) return slot.status();
      spec_.id_slot = *slot;
      if ((spec_.id_slot >= 0) == spec_.id_row_number) {
        return Error("[id]", "give exactly one of \"column\" or \"row_number = true\"");
      }
      if (std::optional<std::string> p = (*t)["prefix"].value<std::string>(); p.has_value()) {
        spec_.id_prefix = *p;
        spec_.id_prefix_given = true;
      }
    }
    // [time]
    {
      const toml::table* t = Table(root, "time", "top level", &st);
      if (!st.ok()) return st;
      if (t == nullptr) return Error("top level", "missing table [time]");
      if (absl::Status s = CheckKeys(*t,
                                     {"column", "format", "year", "month", "day", "hour", "minute",
                                      "default_hour", "time_zone"},
                                     "[time]");
          !s.ok()) {
        return s;
      }
      absl::StatusOr<int> slot = Column(*t, "column", "[time]", false);
      if (!slot.ok()) return slot.status();
      spec_.time_slot = *slot;
      const bool split = t->contains("year") || t->contains("month") || t->contains("day");
      if ((spec_.time_slot >= 0) == split) {
        return Error("[time]", "give either \"column\" with \"format\", or the split columns "
                               "\"year\", \"month\", \"day\" (and optionally \"hour\", \"minute\")");
      }
      if (spec_.time_slot >= 0) {
        std::optional<std::string> f = (*t)["format"].value<std::string>();
        if (!f.has_value() || f->empty()) return Error("[time]", "missing key \"format\" (e.g. \"%Y-%m-%d %H:%M\")");
        spec_.time_format = *f;
        if (absl::Status s = CompileFormat(*f); !s.ok()) return s;
        if (t->contains("hour") || t->contains("minute")) {
          return Error("[time]", "\"hour\"/\"minute\" are for split columns; the format has them");
        }
      } else {
        for (auto [key, dst] : {std::pair<const char*, int*>{"year", &spec_.year_slot},
                                {"month", &spec_.month_slot},
                                {"day", &spec_.day_slot}}) {
          absl::StatusOr<int> s = Column(*t, key, "[time]", true);
          if (!s.ok()) return s.status();
          *dst = *s;
        }
        absl::StatusOr<int> h = Column(*t, "hour", "[time]", false);
        if (!h.ok()) return h.status();
        spec_.hour_slot = *h;
        absl::StatusOr<int> m = Column(*t, "minute", "[time]", false);
        if (!m.ok()) return m.status();
        spec_.minute_slot = *m;
        if (t->contains("format")) return Error("[time]", "\"format\" is for a single \"column\"");
      }
      if (const toml::node* d = t->get("default_hour"); d != nullptr) {
        // The type first: toml++ converts a float to int64_t without a range
        // check (undefined behaviour for 3e30).
        if (!d->is_integer()) return Error("[time].default_hour", "must be an integer 0-23");
        const int64_t v = *d->value<int64_t>();
        if (v < 0 || v > 23) return Error("[time].default_hour", "must be an integer 0-23");
        spec_.default_hour = static_cast<int>(v);
      }
      spec_.time_zone = (*t)["time_zone"].value_or(regions_.time_zone());
      absl::TimeZone tz;
      if (!absl::LoadTimeZone(spec_.time_zone, &tz)) {
        return Error("[time].time_zone", fmt::format("unknown time zone \"{}\"", spec_.time_zone));
      }
    }
    // [region]
    {
      const toml::table* t = Table(root, "region", "top level", &st);
      if (!st.ok()) return st;
      if (t == nullptr) return Error("top level", "missing table [region]");
      if (absl::Status s = CheckKeys(*t, {"column", "default", "map"}, "[region]"); !s.ok()) return s;
      absl::StatusOr<int> slot = Column(*t, "column", "[region]", false);
      if (!slot.ok()) return slot.status();
      spec_.region_slot = *slot;
      if (std::optional<std::string> d = (*t)["default"].value<std::string>(); d.has_value()) {
        absl::StatusOr<std::pair<std::string, std::string>> target = RegionTarget(*d, "[region].default");
        if (!target.ok()) return target.status();
        spec_.region_default = *target;
      }
      if (spec_.region_slot < 0 && !spec_.region_default.has_value()) {
        return Error("[region]", "give \"column\" (and optionally \"map\" and \"default\"), or "
                                 "\"default\" alone");
      }
      if (const toml::table* m = Table(*t, "map", "[region]", &st); m != nullptr) {
        spec_.has_region_map = true;
        for (const auto& [value, code] : *m) {
          std::optional<std::string> c = code.value<std::string>();
          const std::string where = fmt::format("[region.map].\"{}\"", value.str());
          if (!c.has_value()) return Error(where, "must be a region code (a string)");
          absl::StatusOr<std::pair<std::string, std::string>> target = RegionTarget(*c, where);
          if (!target.ok()) return target.status();
          spec_.region_map[std::string(value.str())] = *target;
        }
      }
      if (!st.ok()) return st;
    }
    // [counts]
    if (const toml::table* t = Table(root, "counts", "top level", &st); t != nullptr) {
      if (absl::Status s = CheckKeys(*t, {"deaths", "injuries", "property_loss_yuan"}, "[counts]");
          !s.ok()) {
        return s;
      }
      if (spec_.casualty_rows && (t->contains("deaths") || t->contains("injuries"))) {
        return Error("[counts]", "with rows = \"casualty\" deaths and injuries come from "
                                 "[casualty].death / .injury, not from columns");
      }
      for (auto [key, dst] : {std::pair<const char*, int*>{"deaths", &spec_.deaths_slot},
                              {"injuries", &spec_.injuries_slot},
                              {"property_loss_yuan", &spec_.loss_slot}}) {
        absl::StatusOr<int> s = Column(*t, key, "[counts]", false);
        if (!s.ok()) return s.status();
        *dst = *s;
      }
    }
    if (!st.ok()) return st;
    // [casualty]
    if (const toml::table* t = Table(root, "casualty", "top level", &st); t != nullptr) {
      if (!spec_.casualty_rows) {
        return Error("[casualty]", "only with [source].rows = \"casualty\"");
      }
      if (absl::Status s = CheckKeys(*t, {"death", "injury"}, "[casualty]"); !s.ok()) return s;
      for (auto [key, dst] :
           {std::pair<const char*, std::optional<Condition>*>{"death", &spec_.casualty_death},
            {"injury", &spec_.casualty_injury}}) {
        if (const toml::node* n = t->get(key); n != nullptr) {
          absl::StatusOr<Condition> c = ParseCondition(*n, fmt::format("[casualty.{}]", key));
          if (!c.ok()) return c.status();
          *dst = *std::move(c);
        }
      }
    }
    if (!st.ok()) return st;
    if (spec_.casualty_rows) {
      if (!spec_.casualty_death.has_value() && !spec_.casualty_injury.has_value()) {
        return Error("[casualty]", "with rows = \"casualty\" give \"death\" and/or \"injury\" conditions");
      }
      if (spec_.id_slot < 0) {
        return Error("[id]", "rows = \"casualty\" groups rows into accidents by [id].column; "
                             "row_number cannot group");
      }
    }
    // [handling], [severity]
    if (absl::Status s = ParseChoice(root, "handling", kHandlings, &spec_.handling_default,
                                     &spec_.handling_rules);
        !s.ok()) {
      return s;
    }
    if (absl::Status s = ParseChoice(root, "severity", kSeverities, &spec_.severity_default,
                                     &spec_.severity_rules);
        !s.ok()) {
      return s;
    }
    if (absl::Status s =
            ParseChoice(root, "road", kRoadClasses, &spec_.road_default, &spec_.road_rules);
        !s.ok()) {
      return s;
    }
    // [flags]
    if (const toml::table* t = Table(root, "flags", "top level", &st); t != nullptr) {
      for (const auto& [key, node] : *t) {
        const std::string where = fmt::format("[flags.{}]", key.str());
        if (key.str() == "alcohol") {
          absl::StatusOr<Condition> c = ParseCondition(node, where);
          if (!c.ok()) return c.status();
          spec_.alcohol = *std::move(c);
          continue;
        }
        bool found = false;
        for (const auto& [name, category] : kVehicleFlags) {
          if (name != key.str()) continue;
          found = true;
          absl::StatusOr<Condition> c = ParseCondition(node, where);
          if (!c.ok()) return c.status();
          spec_.vehicle_flags.emplace_back(category, *std::move(c));
        }
        if (!found) {
          std::vector<std::string_view> allowed = {"alcohol"};
          for (const auto& [name, category] : kVehicleFlags) allowed.push_back(name);
          return Error("[flags]", fmt::format("unknown key \"{}\" (allowed: {})", key.str(),
                                              fmt::join(allowed, ", ")));
        }
      }
    }
    if (!st.ok()) return st;
    for (const auto& [column, values] : spec_.unknown_by_column) {
      bool used = false;
      for (const std::string& c : spec_.column_names) used = used || c == column;
      if (!used) {
        return Error("[unknown]", fmt::format("column \"{}\" is not used by the mapping", column));
      }
    }
    spec_.unknown_by_slot.resize(spec_.column_names.size(), nullptr);
    for (size_t i = 0; i < spec_.column_names.size(); ++i) {
      auto it = spec_.unknown_by_column.find(spec_.column_names[i]);
      if (it != spec_.unknown_by_column.end()) spec_.unknown_by_slot[i] = &it->second;
    }
    return absl::OkStatus();
  }

  absl::Status CompileFormat(const std::string& f) {
    bool y = false, m = false, d = false;
    for (size_t i = 0; i < f.size(); ++i) {
      if (f[i] != '%') {
        spec_.format_parts.push_back(FormatPart{0, f[i]});
        continue;
      }
      if (i + 1 == f.size()) return Error("[time].format", fmt::format("\"{}\" ends with a lone %", f));
      const char c = f[++i];
      switch (c) {
        case 'Y': y = true; break;
        case 'm': m = true; break;
        case 'd': d = true; break;
        case 'H': case 'M': case 'S': break;
        case '%':
          spec_.format_parts.push_back(FormatPart{0, '%'});
          continue;
        default:
          return Error("[time].format",
                       fmt::format("\"{}\": unsupported directive %{} (supported: %Y %m %d %H %M "
                                   "%S %%)",
                                   f, c));
      }
      spec_.format_parts.push_back(FormatPart{c, 0});
    }
    if (!y || !m || !d) {
      return Error("[time].format",
                   fmt::format("\"{}\" must contain %Y, %m and %d (a full date)", f));
    }
    return absl::OkStatus();
  }

 private:
  std::string source_;
  const RegionTable& regions_;
  MappingSpec& spec_;
};

bool ParseInt(std::string_view s, int64_t* out) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

bool ParseDouble(std::string_view s, double* out) {
  // std::from_chars for double is not in GCC 12's library for every target;
  // strtod on a bounded copy.
  if (s.empty() || s.size() > 64) return false;
  char buf[65];
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = 0;
  char* end = nullptr;
  *out = std::strtod(buf, &end);
  return end == buf + s.size() && std::isfinite(*out);
}

}  // namespace

// ---------------------------------------------------------------------------

absl::StatusOr<CsvMapping> CsvMapping::LoadFile(const std::string& path,
                                                const RegionTable& regions) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(fmt::format("mapping {}: cannot open file", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return LoadString(buffer.str(), path, regions);
}

absl::StatusOr<CsvMapping> CsvMapping::LoadString(std::string_view toml,
                                                  std::string_view source_name,
                                                  const RegionTable& regions) {
  auto spec = std::make_shared<MappingSpec>();
  spec->source_name = std::string(source_name);
  Loader loader(spec->source_name, regions, spec.get());
  if (absl::Status s = loader.Parse(toml); !s.ok()) return s;
  CsvMapping m;
  m.spec_ = std::move(spec);
  m.regions_ = &regions;
  return m;
}

const std::string& CsvMapping::source_name() const { return spec_->source_name; }

// ---------------------------------------------------------------------------

CsvEventSource::CsvEventSource(std::unique_ptr<CsvReader> reader, const CsvMapping& mapping,
                               RejectSink* rejects)
    : reader_(std::move(reader)), mapping_(mapping), spec_(mapping.spec()), rejects_(rejects) {
  absl::LoadTimeZone(spec_.time_zone, &tz_);
}

CsvEventSource::~CsvEventSource() = default;

absl::StatusOr<std::unique_ptr<CsvEventSource>> CsvEventSource::Open(const std::string& path,
                                                                     const CsvMapping& mapping,
                                                                     RejectSink* rejects) {
  CsvOptions options;
  options.delimiter = mapping.spec().delimiter;
  absl::StatusOr<std::unique_ptr<CsvReader>> reader = CsvReader::Open(path, options);
  if (!reader.ok()) return reader.status();
  if ((*reader)->empty()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: empty file: no header row (mapping {} needs one)", path,
                    mapping.source_name()));
  }
  std::unique_ptr<CsvEventSource> src(new CsvEventSource(*std::move(reader), mapping, rejects));
  CsvRow header;
  absl::StatusOr<bool> got = src->reader_->Next(&header);
  if (!got.ok()) return got.status();
  if (!*got) {
    return absl::InvalidArgumentError(fmt::format("{}: no header row (only blank lines)", path));
  }
  if (!header.problem.empty()) {
    return absl::InvalidArgumentError(fmt::format("{}:{}: header row: {}", path, header.line,
                                                  header.problem));
  }
  if (const size_t bad = ingest_internal::FirstInvalidUtf8(header.raw); bad != header.raw.size()) {
    return absl::InvalidArgumentError(
        fmt::format("{}:{}: header row: invalid UTF-8 at byte {}", path, header.line, bad));
  }
  if (absl::Status s = src->ResolveColumns(header); !s.ok()) return s;
  src->id_prefix_ =
      mapping.spec().id_prefix_given ? mapping.spec().id_prefix
                                     : path.substr(path.find_last_of('/') + 1) + ":";
  return src;
}

absl::Status CsvEventSource::ResolveColumns(const CsvRow& header) {
  header_width_ = header.fields.size();
  std::vector<std::string> names;
  for (std::string_view f : header.fields) names.emplace_back(Trim(f));
  columns_.assign(spec_.column_names.size(), -1);
  for (size_t slot = 0; slot < spec_.column_names.size(); ++slot) {
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == spec_.column_names[slot]) {
        columns_[slot] = static_cast<int>(i);
        break;
      }
    }
    if (columns_[slot] < 0) {
      return absl::InvalidArgumentError(fmt::format(
          "mapping {}: {} names column \"{}\", which is not in the header of {} (its columns: "
          "{})",
          spec_.source_name, spec_.column_keys[slot], spec_.column_names[slot], name(),
          fmt::join(names, ", ")));
    }
  }
  return absl::OkStatus();
}

void CsvEventSource::Reject(int64_t line, std::string_view reason) {
  ++rejected_;
  if (rejects_ != nullptr) rejects_->Reject(name(), fmt::format("line {}", line), reason);
}

std::string CsvEventSource::Describe(const RecordPosition& position) const {
  return fmt::format("line {}", position.number);
}

namespace {

// Evaluation of the mapping over one row.
class RowView {
 public:
  RowView(const MappingSpec& spec, const std::vector<int>& columns, const CsvRow& row)
      : spec_(spec), columns_(columns), row_(row) {}

  std::string_view Value(int slot) const {
    return Trim(row_.fields[static_cast<size_t>(columns_[static_cast<size_t>(slot)])]);
  }
  bool Missing(int slot, std::string_view v) const {
    if (v.empty()) return true;
    const absl::string_view av(v.data(), v.size());
    if (spec_.unknown_all.contains(av)) return true;
    const auto* own = spec_.unknown_by_slot[static_cast<size_t>(slot)];
    return own != nullptr && own->contains(av);
  }
  const std::string& ColumnName(int slot) const { return spec_.column_names[static_cast<size_t>(slot)]; }

  // -1 error (reason set), 0 false, 1 true.
  int Test(const Condition& c, std::string* reason) const {
    for (int slot : c.slots) {
      const std::string_view v = Value(slot);
      if (Missing(slot, v)) continue;
      switch (c.op) {
        case Condition::Op::kEquals:
          if (v == c.equals) return 1;
          break;
        case Condition::Op::kIn:
          if (c.in.contains(absl::string_view(v.data(), v.size()))) return 1;
          break;
        case Condition::Op::kAtLeast: {
          double d;
          if (!ParseDouble(v, &d)) {
            *reason = fmt::format("{} \"{}\" is not a number (needed by {})", ColumnName(slot), v,
                                  c.where);
            return -1;
          }
          if (d >= c.at_least) return 1;
          break;
        }
      }
    }
    return 0;
  }

  // An integer column; missing -> `if_missing`; false with a reason when not a number.
  bool Int(int slot, int64_t if_missing, int64_t* out, std::string* reason) const {
    const std::string_view v = Value(slot);
    if (Missing(slot, v)) {
      *out = if_missing;
      return true;
    }
    if (!ParseInt(v, out)) {
      *reason = fmt::format("{} \"{}\" is not a whole number", ColumnName(slot), v);
      return false;
    }
    return true;
  }

 private:
  const MappingSpec& spec_;
  const std::vector<int>& columns_;
  const CsvRow& row_;
};

enum class TimeParse { kOk, kNoMatch, kNoSuchTime };

// Parses `text` with the compiled format: kNoMatch when it does not match,
// kNoSuchTime when it does but names no time of the calendar (2025-02-29).
TimeParse ParseWithFormat(const std::vector<FormatPart>& parts, std::string_view text,
                          absl::CivilSecond* out) {
  int64_t y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  size_t i = 0;
  for (const FormatPart& p : parts) {
    if (p.directive == 0) {
      if (i >= text.size() || text[i] != p.literal) return TimeParse::kNoMatch;
      ++i;
      continue;
    }
    const size_t max_digits = p.directive == 'Y' ? 4 : 2;
    size_t n = 0;
    int64_t v = 0;
    while (n < max_digits && i < text.size() && text[i] >= '0' && text[i] <= '9') {
      v = v * 10 + (text[i] - '0');
      ++i;
      ++n;
    }
    if (n == 0 || (p.directive == 'Y' && n != 4)) return TimeParse::kNoMatch;
    switch (p.directive) {
      case 'Y': y = v; break;
      case 'm': mo = v; break;
      case 'd': d = v; break;
      case 'H': h = v; break;
      case 'M': mi = v; break;
      case 'S': s = v; break;
      default:
        return TimeParse::kNoMatch;
    }
  }
  if (i != text.size()) return TimeParse::kNoMatch;
  const absl::CivilSecond cs(y, static_cast<int>(mo), static_cast<int>(d), static_cast<int>(h),
                             static_cast<int>(mi), static_cast<int>(s));
  if (cs.year() != y || cs.month() != mo || cs.day() != d || cs.hour() != h ||
      cs.minute() != mi || cs.second() != s) {
    return TimeParse::kNoSuchTime;  // 2025-02-30, 25:00 and the like
  }
  *out = cs;
  return TimeParse::kOk;
}

}  // namespace

bool CsvEventSource::MapRow(const CsvRow& row, Mapped* m, std::string* reason) {
  const RowView v(spec_, columns_, row);
  m->line = row.line;
  // Id.
  if (spec_.id_row_number) {
    m->id = fmt::format("{}{}", id_prefix_, rows_);
  } else {
    const std::string_view id = v.Value(spec_.id_slot);
    if (v.Missing(spec_.id_slot, id)) {
      *reason = fmt::format("no accident id ({} is blank or unknown)", v.ColumnName(spec_.id_slot));
      return false;
    }
    m->id.assign(spec_.id_prefix_given ? spec_.id_prefix : std::string());
    m->id.append(id);
  }
  // Time.
  absl::CivilSecond cs;
  if (spec_.time_slot >= 0) {
    const std::string_view t = v.Value(spec_.time_slot);
    if (v.Missing(spec_.time_slot, t)) {
      *reason = fmt::format("no date ({} is blank or unknown)", v.ColumnName(spec_.time_slot));
      return false;
    }
    const TimeParse parsed = ParseWithFormat(spec_.format_parts, t, &cs);
    if (parsed != TimeParse::kOk) {
      *reason = fmt::format(parsed == TimeParse::kNoMatch
                                ? "{} \"{}\" does not match [time].format \"{}\""
                                : "{} \"{}\": no such date or time (as [time].format \"{}\" "
                                  "reads it)",
                            v.ColumnName(spec_.time_slot), t, spec_.time_format);
      return false;
    }
  } else {
    int64_t y, mo, d, h = 0, mi = 0;
    for (auto [slot, dst] : {std::pair<int, int64_t*>{spec_.year_slot, &y},
                             {spec_.month_slot, &mo},
                             {spec_.day_slot, &d}}) {
      const std::string_view s = v.Value(slot);
      if (v.Missing(slot, s)) {
        *reason = fmt::format("no date ({} is blank or unknown)", v.ColumnName(slot));
        return false;
      }
      if (!ParseInt(s, dst)) {
        *reason = fmt::format("{} \"{}\" is not a whole number", v.ColumnName(slot), s);
        return false;
      }
    }
    if (spec_.hour_slot >= 0) {
      const std::string_view s = v.Value(spec_.hour_slot);
      if (v.Missing(spec_.hour_slot, s)) {
        if (!spec_.default_hour.has_value()) {
          *reason = fmt::format("no hour ({} is blank or unknown, and [time] has no default_hour)",
                                v.ColumnName(spec_.hour_slot));
          return false;
        }
        h = *spec_.default_hour;
      } else if (!ParseInt(s, &h) || h < 0 || h > 23) {
        *reason = fmt::format("{} \"{}\" is not an hour 0-23", v.ColumnName(spec_.hour_slot), s);
        return false;
      }
    } else {
      h = spec_.default_hour.value_or(0);
    }
    if (spec_.minute_slot >= 0 && !v.Int(spec_.minute_slot, 0, &mi, reason)) return false;
    cs = absl::CivilSecond(y, static_cast<int>(mo), static_cast<int>(d), static_cast<int>(h),
                           static_cast<int>(mi), 0);
    if (cs.year() != y || cs.month() != mo || cs.day() != d || cs.minute() != mi) {
      *reason = fmt::format("no such date or time: {}-{:02}-{:02} {:02}:{:02}", y, mo, d, h, mi);
      return false;
    }
  }
  m->occurred_unix_s = absl::ToUnixSeconds(absl::FromCivil(cs, tz_));
  // Region.
  m->region_code.clear();
  m->township_code.clear();
  const std::pair<std::string, std::string>* target = nullptr;
  std::pair<std::string, std::string> direct;
  std::string_view rv;
  if (spec_.region_slot >= 0) rv = v.Value(spec_.region_slot);
  if (spec_.region_slot < 0 || v.Missing(spec_.region_slot, rv)) {
    if (!spec_.region_default.has_value()) {
      *reason = fmt::format("no region ({} is blank or unknown, and [region] has no default)",
                            v.ColumnName(spec_.region_slot));
      return false;
    }
    target = &*spec_.region_default;
  } else if (spec_.has_region_map) {
    auto it = spec_.region_map.find(absl::string_view(rv.data(), rv.size()));
    if (it == spec_.region_map.end()) {
      *reason = fmt::format("{} \"{}\" is not in [region.map]", v.ColumnName(spec_.region_slot), rv);
      return false;
    }
    target = &it->second;
  } else {
    const Region* r = mapping_.regions().Find(rv);
    if (r == nullptr) {
      *reason = fmt::format("{} \"{}\" is not a code in the region table",
                            v.ColumnName(spec_.region_slot), rv);
      return false;
    }
    if (r->kind == RegionKind::kTownship || r->kind == RegionKind::kStreet) {
      direct = {r->parent, r->code};
    } else if (r->kind == RegionKind::kCity || r->kind == RegionKind::kMainUrban) {
      *reason = fmt::format("{} \"{}\" is not a county-level unit or township",
                            v.ColumnName(spec_.region_slot), rv);
      return false;
    } else {
      direct = {r->code, std::string()};
    }
    target = &direct;
  }
  m->region_code = target->first;
  m->township_code = target->second;
  // Counts.
  int64_t deaths = 0, injuries = 0, loss = 0;
  if (spec_.deaths_slot >= 0 && !v.Int(spec_.deaths_slot, 0, &deaths, reason)) return false;
  if (spec_.injuries_slot >= 0 && !v.Int(spec_.injuries_slot, 0, &injuries, reason)) return false;
  if (spec_.loss_slot >= 0 && !v.Int(spec_.loss_slot, 0, &loss, reason)) return false;
  if (spec_.casualty_rows) {
    int died = 0;
    if (spec_.casualty_death.has_value()) {
      died = v.Test(*spec_.casualty_death, reason);
      if (died < 0) return false;
    }
    if (died == 1) {
      deaths = 1;
    } else if (spec_.casualty_injury.has_value()) {
      const int hurt = v.Test(*spec_.casualty_injury, reason);
      if (hurt < 0) return false;
      injuries = hurt;
    }
  }
  if (deaths > INT32_MAX || injuries > INT32_MAX || deaths < INT32_MIN || injuries < INT32_MIN) {
    *reason = "a count out of range";
    return false;
  }
  m->deaths = static_cast<int32_t>(deaths);
  m->injuries = static_cast<int32_t>(injuries);
  m->property_loss_yuan = loss;
  // Handling, severity and road class: the first rule that holds, else the
  // default. False (with *reason) when a rule's column cannot be tested.
  auto choose = [&v, reason](const std::vector<Rule>& rules, auto fallback, auto* out) {
    *out = fallback;
    for (const Rule& r : rules) {
      const int t = v.Test(r.condition, reason);
      if (t < 0) return false;
      if (t == 1) {
        *out = static_cast<decltype(fallback)>(r.value);
        break;
      }
    }
    return true;
  };
  if (!choose(spec_.handling_rules, spec_.handling_default, &m->handling) ||
      !choose(spec_.severity_rules, spec_.severity_default, &m->severity) ||
      !choose(spec_.road_rules, spec_.road_default, &m->road_class)) {
    return false;
  }
  // Flags.
  m->alcohol = false;
  if (spec_.alcohol.has_value()) {
    const int t = v.Test(*spec_.alcohol, reason);
    if (t < 0) return false;
    m->alcohol = t == 1;
  }
  m->vehicles = 0;
  for (const auto& [category, condition] : spec_.vehicle_flags) {
    const int t = v.Test(condition, reason);
    if (t < 0) return false;
    if (t == 1) m->vehicles |= 1u << static_cast<unsigned>(category);
  }
  return true;
}

void CsvEventSource::Emit(const Mapped& m, SourceRecord* record) {
  event_.Clear();
  event_.set_id(m.id);
  event_.set_revision(1);
  event_.mutable_occurred_at()->set_seconds(m.occurred_unix_s);
  event_.mutable_reported_at()->set_seconds(m.occurred_unix_s);
  v1::Location* loc = event_.mutable_location();
  loc->set_region_code(m.region_code);
  if (!m.township_code.empty()) loc->set_township_code(m.township_code);
  loc->set_road_class(m.road_class);
  event_.set_deaths(m.deaths);
  event_.set_injuries(m.injuries);
  event_.set_severity(m.severity);
  event_.set_handling(m.handling);
  for (int c = 0; c < 32; ++c) {
    if ((m.vehicles >> c) & 1u) event_.add_vehicles(static_cast<v1::VehicleCategory>(c));
  }
  event_.set_alcohol_involved(m.alcohol);
  event_.set_property_loss_yuan(m.property_loss_yuan);
  value_.clear();
  event_.SerializeToString(&value_);
  key_ = m.id;
  record->kind = v1::EVENT_KIND_INCIDENT;
  record->key = key_;
  record->value = value_;
  record->timestamp_unix_ms = 0;
  where_line_ = m.line;
}

absl::StatusOr<bool> CsvEventSource::Next(SourceRecord* record) {
  std::string reason;
  Mapped m;
  while (true) {
    absl::StatusOr<bool> more = reader_->Next(&row_);
    if (!more.ok()) return more.status();
    if (!*more) {
      if (group_.has_value()) {
        Emit(*group_, record);
        group_.reset();
        return true;
      }
      return false;
    }
    ++rows_;
    if (!row_.problem.empty()) {
      Reject(row_.line, fmt::format("malformed CSV: {}", row_.problem));
      continue;
    }
    if (row_.fields.size() != header_width_) {
      Reject(row_.line, fmt::format("ragged row: {} fields, the header has {}", row_.fields.size(),
                                    header_width_));
      continue;
    }
    if (const size_t bad = ingest_internal::FirstInvalidUtf8(row_.raw); bad != row_.raw.size()) {
      size_t start = 0, field = 0;
      while (field + 1 < row_.fields.size() && start + row_.fields[field].size() <= bad) {
        start += row_.fields[field].size();
        ++field;
      }
      Reject(row_.line, fmt::format("invalid UTF-8 in field {} at byte {} of the field", field + 1,
                                    bad - start));
      continue;
    }
    reason.clear();
    if (!MapRow(row_, &m, &reason)) {
      Reject(row_.line, reason);
      continue;
    }
    if (!spec_.casualty_rows) {
      Emit(m, record);
      return true;
    }
    if (group_.has_value() && group_->id == m.id) {
      group_->deaths += m.deaths;
      group_->injuries += m.injuries;
      group_->vehicles |= m.vehicles;
      group_->alcohol = group_->alcohol || m.alcohol;
      continue;
    }
    if (auto it = finished_.find(m.id); it != finished_.end()) {
      Reject(row_.line, fmt::format("accident {} already ended (its rows began on line {}): the "
                                    "rows of one accident must be consecutive",
                                    m.id, it->second));
      continue;
    }
    if (group_.has_value()) {
      finished_[group_->id] = group_->line;
      Emit(*group_, record);
      group_ = std::move(m);
      return true;
    }
    group_ = std::move(m);
  }
}

}  // namespace roadpulse
