// The dashboard's static files (sinks/dashboard/), built into the binary: the
// duty room has no internet, so nothing is loaded from a CDN. The definitions
// are generated at build time by sinks/dashboard/embed.cmake.
#ifndef ROADPULSE_SINKS_DASHBOARD_ASSETS_H_
#define ROADPULSE_SINKS_DASHBOARD_ASSETS_H_

#include <string_view>

namespace roadpulse {

struct DashboardAsset {
  const char* path;          // "/index.html"
  const char* content_type;  // "text/html; charset=utf-8"
  std::string_view body;
};

// nullptr when there is no such file.
const DashboardAsset* FindDashboardAsset(std::string_view path);

}  // namespace roadpulse

#endif  // ROADPULSE_SINKS_DASHBOARD_ASSETS_H_
