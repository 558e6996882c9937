#include "ingest/internal/json_fast.h"

#include <cstdint>
#include <limits>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "ingest/internal/utf8.h"

namespace roadpulse::ingest_internal {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using simdjson::dom::element;
using simdjson::dom::element_type;

// A JSON integer, or a string holding one in its plain form (protobuf's JSON
// mapping writes 64-bit integers as strings): -?(0|[1-9][0-9]*), within
// int64 or uint64. False for anything else (floats, exponents, "+1", "007").
bool IntegerOf(const element& e, bool* negative, uint64_t* magnitude) {
  switch (e.type()) {
    case element_type::INT64: {
      const int64_t v = e.get_int64().value_unsafe();
      *negative = v < 0;
      *magnitude = v < 0 ? uint64_t{0} - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
      return true;
    }
    case element_type::UINT64:
      *negative = false;
      *magnitude = e.get_uint64().value_unsafe();
      return true;
    case element_type::STRING: {
      std::string_view s = e.get_string().value_unsafe();
      *negative = !s.empty() && s[0] == '-';
      if (*negative) s.remove_prefix(1);
      if (s.empty() || s.size() > 20 || (s[0] == '0' && (s.size() > 1 || *negative))) {
        return false;
      }
      uint64_t v = 0;
      for (char c : s) {
        if (c < '0' || c > '9') return false;
        const uint64_t digit = static_cast<uint64_t>(c - '0');
        if (v > (std::numeric_limits<uint64_t>::max() - digit) / 10) return false;
        v = v * 10 + digit;
      }
      *magnitude = v;
      return true;
    }
    default:
      return false;
  }
}

bool Int64Of(const element& e, int64_t* out) {
  bool negative;
  uint64_t m;
  if (!IntegerOf(e, &negative, &m)) return false;
  if (negative) {
    if (m > uint64_t{1} << 63) return false;
    *out = static_cast<int64_t>(uint64_t{0} - m);
  } else {
    if (m > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    *out = static_cast<int64_t>(m);
  }
  return true;
}

bool Uint64Of(const element& e, uint64_t* out) {
  bool negative;
  if (!IntegerOf(e, &negative, out)) return false;
  return !negative;
}

// A JSON number other than zero (a zero might have been written -0, which
// protobuf keeps and a JSON integer cannot say).
bool DoubleOf(const element& e, double* out) {
  switch (e.type()) {
    case element_type::DOUBLE:
      *out = e.get_double().value_unsafe();
      break;
    case element_type::INT64:
      *out = static_cast<double>(e.get_int64().value_unsafe());
      break;
    case element_type::UINT64:
      *out = static_cast<double>(e.get_uint64().value_unsafe());
      break;
    default:
      return false;
  }
  return *out != 0;
}

bool StringOf(const element& e, std::string_view* out) {
  if (e.type() != element_type::STRING) return false;
  *out = e.get_string().value_unsafe();
  return IsValidUtf8(*out);
}

int Digits(std::string_view s, size_t at, size_t n) {
  int v = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

// A timestamp as protobuf's printer writes it: YYYY-MM-DDTHH:MM:SSZ, with 0,
// 3, 6 or 9 fractional digits, years 0001-9999, no leap second.
bool TimestampOf(const element& e, int64_t* seconds, int32_t* nanos) {
  std::string_view s;
  if (!StringOf(e, &s)) return false;
  const size_t n = s.size();
  if (n != 20 && n != 24 && n != 27 && n != 30) return false;
  if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
      s[n - 1] != 'Z') {
    return false;
  }
  const int year = Digits(s, 0, 4), month = Digits(s, 5, 2), day = Digits(s, 8, 2);
  const int hour = Digits(s, 11, 2), minute = Digits(s, 14, 2), second = Digits(s, 17, 2);
  // absl normalizes a field out of range (2025-02-29, 23:59:60) into another
  // time: such a text is not one protobuf reads as written.
  const absl::CivilSecond civil(year, month, day, hour, minute, second);
  if (year < 1 || civil.year() != year || civil.month() != month || civil.day() != day ||
      civil.hour() != hour || civil.minute() != minute || civil.second() != second) {
    return false;
  }
  int32_t frac = 0;
  if (n > 20) {
    if (s[19] != '.') return false;
    const size_t digits = n - 21;
    const int v = Digits(s, 20, digits);
    if (v < 0) return false;
    frac = v;
    for (size_t i = digits; i < 9; ++i) frac *= 10;
  }
  *seconds = absl::ToUnixSeconds(absl::FromCivil(civil, absl::UTCTimeZone()));
  *nanos = frac;
  return true;
}

}  // namespace

const FastJsonParser::FieldTable& FastJsonParser::FieldsOf(const Descriptor* type) {
  std::unique_ptr<FieldTable>& table = fields_[type];
  if (table == nullptr) {
    table = std::make_unique<FieldTable>();
    for (int i = 0; i < type->field_count(); ++i) {
      const FieldDescriptor* f = type->field(i);
      table->emplace(f->json_name(), f);
      table->emplace(f->name(), f);
    }
  }
  return *table;
}

// One value of `field` (an element of it, when repeated) into `message`.
bool FastJsonParser::ParseValue(const element& e, const FieldDescriptor* field, Message* message) {
  const Reflection* r = message->GetReflection();
  const bool repeated = field->is_repeated();
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32: {
      int64_t v;
      if (!Int64Of(e, &v) || v < std::numeric_limits<int32_t>::min() ||
          v > std::numeric_limits<int32_t>::max()) {
        return false;
      }
      repeated ? r->AddInt32(message, field, static_cast<int32_t>(v))
               : r->SetInt32(message, field, static_cast<int32_t>(v));
      return true;
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      int64_t v;
      if (!Int64Of(e, &v)) return false;
      repeated ? r->AddInt64(message, field, v) : r->SetInt64(message, field, v);
      return true;
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      uint64_t v;
      if (!Uint64Of(e, &v) || v > std::numeric_limits<uint32_t>::max()) return false;
      repeated ? r->AddUInt32(message, field, static_cast<uint32_t>(v))
               : r->SetUInt32(message, field, static_cast<uint32_t>(v));
      return true;
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t v;
      if (!Uint64Of(e, &v)) return false;
      repeated ? r->AddUInt64(message, field, v) : r->SetUInt64(message, field, v);
      return true;
    }
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      double v;
      if (!DoubleOf(e, &v)) return false;
      repeated ? r->AddDouble(message, field, v) : r->SetDouble(message, field, v);
      return true;
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      if (e.type() != element_type::BOOL) return false;
      const bool v = e.get_bool().value_unsafe();
      repeated ? r->AddBool(message, field, v) : r->SetBool(message, field, v);
      return true;
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      std::string_view name;
      if (!StringOf(e, &name)) return false;
      const EnumValueDescriptor* v = field->enum_type()->FindValueByName(std::string(name));
      if (v == nullptr) return false;
      repeated ? r->AddEnumValue(message, field, v->number())
               : r->SetEnumValue(message, field, v->number());
      return true;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string_view s;
      if (!StringOf(e, &s)) return false;
      std::string value;
      if (field->type() == FieldDescriptor::TYPE_BYTES) {
        // Canonical base64 only (what the printer writes): padded, standard
        // alphabet, and nothing that decodes and re-encodes differently.
        if (!absl::Base64Unescape(absl::string_view(s.data(), s.size()), &value) ||
            absl::Base64Escape(value) != s) {
          return false;
        }
      } else {
        value.assign(s.data(), s.size());
      }
      repeated ? r->AddString(message, field, std::move(value))
               : r->SetString(message, field, std::move(value));
      return true;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const Descriptor* type = field->message_type();
      if (type->full_name() == "google.protobuf.Timestamp") {
        int64_t seconds;
        int32_t nanos;
        if (!TimestampOf(e, &seconds, &nanos)) return false;
        Message* t = repeated ? r->AddMessage(message, field) : r->MutableMessage(message, field);
        const Reflection* tr = t->GetReflection();
        tr->SetInt64(t, type->FindFieldByNumber(1), seconds);
        tr->SetInt32(t, type->FindFieldByNumber(2), nanos);
        return true;
      }
      // Other well-known types have JSON forms of their own.
      if (type->file()->package() == "google.protobuf") return false;
      if (e.type() != element_type::OBJECT) return false;
      return ParseObject(
          e, repeated ? r->AddMessage(message, field) : r->MutableMessage(message, field));
    }
    default:  // float: its rounding from the text is not checked here
      return false;
  }
}

bool FastJsonParser::ParseObject(const element& json, Message* message) {
  if (json.type() != element_type::OBJECT) return false;
  const FieldTable& fields = FieldsOf(message->GetDescriptor());
  const Reflection* r = message->GetReflection();
  uint64_t seen = 0;  // field numbers 1..63 given so far; a key twice is not handled
  simdjson::dom::object object;
  if (json.get_object().get(object) != simdjson::SUCCESS) return false;
  for (const simdjson::dom::key_value_pair kv : object) {
    key_.assign(kv.key.data(), kv.key.size());
    const auto found = fields.find(key_);
    if (found == fields.end()) return false;
    const FieldDescriptor* field = found->second;
    if (field->number() >= 64 || field->is_map()) return false;
    const uint64_t bit = uint64_t{1} << field->number();
    if (seen & bit) return false;
    seen |= bit;
    if (const google::protobuf::OneofDescriptor* oneof = field->real_containing_oneof();
        oneof != nullptr && r->HasOneof(*message, oneof)) {
      return false;
    }
    const element value = kv.value;
    if (field->is_repeated()) {
      if (value.type() != element_type::ARRAY) return false;
      simdjson::dom::array items;
      if (value.get_array().get(items) != simdjson::SUCCESS) return false;
      for (const element item : items) {
        if (!ParseValue(item, field, message)) return false;
      }
    } else if (!ParseValue(value, field, message)) {
      return false;
    }
  }
  return true;
}

bool FastJsonParser::Parse(std::string_view json, google::protobuf::Message* message) {
  message->Clear();
  if (json.size() > kMaxBytes) return false;
  padded_.assign(json.data(), json.size());
  padded_.resize(json.size() + simdjson::SIMDJSON_PADDING);
  element doc;
  if (parser_.parse(padded_.data(), json.size(), /*realloc_if_needed=*/false).get(doc) !=
      simdjson::SUCCESS) {
    return false;
  }
  return ParseObject(doc, message);
}

}  // namespace roadpulse::ingest_internal
