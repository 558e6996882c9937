// The region table: the city, its county-level units, their townships, and
// which units form the main urban area (主城区). Loaded from a TOML file
// (deploy/config/regions/binzhou.toml); another city is another file.
#ifndef ROADPULSE_PROCESSORS_REGION_TABLE_H_
#define ROADPULSE_PROCESSORS_REGION_TABLE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace roadpulse {

enum class RegionKind : uint8_t {
  kCity,
  kDistrict,
  kCounty,
  kCountyCity,
  kZone,
  kTownship,
  kStreet,
  kMainUrban,  // the synthetic main-urban-area unit
};

struct Region {
  std::string code;         // "371602"
  std::string name_zh;      // "滨城区"
  std::string name_pinyin;  // "Bincheng Qu"
  std::string name_en;      // "Bincheng District"
  std::string parent;       // "" for the city and the main urban area
  RegionKind kind = RegionKind::kCounty;
  bool main_urban = false;  // effective (inherited) main-urban membership
  uint16_t index = 0;       // dense index, stable for one loaded table
};

// Immutable after loading; safe to share between threads.
class RegionTable {
 public:
  // Parses a region table file. Errors name the file and the problem
  // (kNotFound, kInvalidArgument): duplicate codes, unknown parents, a unit
  // whose parent is a township, a missing [city] table, unknown keys.
  static absl::StatusOr<RegionTable> LoadFile(const std::string& path);
  static absl::StatusOr<RegionTable> LoadString(std::string_view toml,
                                                std::string_view source_name);

  const Region& city() const { return regions_[0]; }
  // The synthetic unit for the main urban area.
  const Region& main_urban() const { return regions_[1]; }
  // IANA time zone for days and months, e.g. "Asia/Shanghai".
  const std::string& time_zone() const { return time_zone_; }
  // That zone, loaded once when the table was: loading checked the name, so
  // every table has one. Days, months and "today" are civil days in it.
  const absl::TimeZone& zone() const { return zone_; }

  // nullptr when unknown. Accepts the city, main-urban, county and township codes.
  const Region* Find(std::string_view code) const;
  // A region as a person names it (a flag, a query parameter): its code; its
  // Chinese, English or pinyin name (English and pinyin in any case); or, when
  // nothing is named so exactly, the start of a name (邹平, Bincheng: the
  // English and pinyin ones up to a space or the end), and last a part of a
  // Chinese name (北海, 高新) of at least two characters. The first of these
  // that fits decides. Never null when ok. Errors say what fits:
  // kInvalidArgument `"滨州" names 4 regions: 371600 滨州市, ...`, kNotFound
  // `unknown region "X": ...` with the city's, the main urban area's and the
  // county-level units' codes and names; they repeat `text` up to 40
  // characters. White space around `text` is ignored (also U+00A0, U+3000).
  absl::StatusOr<const Region*> Resolve(std::string_view text) const;
  const Region& at(uint16_t index) const { return regions_[index]; }
  size_t size() const { return regions_.size(); }

  // County-level units (children of the city), in file order.
  std::vector<const Region*> Counties() const;
  // Direct children of `code`.
  std::vector<const Region*> Children(std::string_view code) const;
  // The leaf units (county-level and townships) whose counts make up `code`:
  // itself and every descendant; for the city every unit; for the main urban
  // area every unit with main_urban set. Empty for an unknown code.
  std::vector<const Region*> UnitsOf(std::string_view code) const;

  // The counting unit of an event: the township when given, else the county.
  // Returns nullptr when the code is unknown, the township's parent is not
  // `county_code`, or county_code is not a county-level unit.
  const Region* CountingUnit(std::string_view county_code, std::string_view township_code) const;

 private:
  RegionTable() = default;
  // Indexes `code`; false if it is taken.
  bool AddCode(const std::string& code, uint16_t index);
  // A code of 1 to 16 bytes (administrative division codes have 6, 9 or 12
  // digits), zero-padded into two words: equal keys, equal codes.
  struct ShortKey {
    uint64_t lo = 0;
    uint64_t hi = 0;
    uint32_t size = 0;  // 0: an empty slot of short_
    uint16_t index = 0;
  };
  static constexpr size_t kShortMax = 16;
  static ShortKey ShortKeyOf(std::string_view code);
  // The slot of short_ holding `key`, or the empty one where it would go.
  size_t ShortSlot(const ShortKey& key) const;
  std::string time_zone_;
  absl::TimeZone zone_;
  std::vector<Region> regions_;  // [0] city, [1] main urban, then units
  // Short codes (all real ones) in an open-addressing table of a power-of-two
  // size, at most half full, probed linearly: Find() runs for every event,
  // and this costs a fraction of hashing a string. Longer codes by their
  // text in by_code_. A code is in exactly one of the two.
  std::vector<ShortKey> short_;
  size_t short_count_ = 0;
  absl::flat_hash_map<std::string, uint16_t> by_code_;
};

}  // namespace roadpulse

#endif  // ROADPULSE_PROCESSORS_REGION_TABLE_H_
