#include "service/http_request.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace ringline::service {
namespace {

TEST(http_request_test, an_unfinished_head_is_not_complete) {
  EXPECT_FALSE(parse_http_head("GET /metrics HTTP/1.1\r\nHost: x\r\n").complete);
  EXPECT_FALSE(parse_http_head("").complete);
}

TEST(http_request_test, targets_methods_and_malformed_request_lines) {
  const std::vector<std::pair<std::string, http_target>> cases{
      {"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", http_target::metrics},
      {"GET /metrics?name=x HTTP/1.0\r\n\r\n", http_target::metrics},
      {"HEAD /health HTTP/1.1\n\n", http_target::health},
      {"GET /health HTTP/1.1\r\n\r\n", http_target::health},
      {"GET / HTTP/1.1\r\n\r\n", http_target::not_found},
      {"GET /metricsx HTTP/1.1\r\n\r\n", http_target::not_found},
      {"POST /metrics HTTP/1.1\r\n\r\n", http_target::bad_method},
      {"DELETE /health HTTP/1.1\r\n\r\n", http_target::bad_method},
      {"GET /metrics\r\n\r\n", http_target::malformed},
      {"GET /metrics HTTP/2\r\n\r\n", http_target::malformed},
      {"hello\n\n", http_target::malformed},
      {"GET  HTTP/1.1\r\n\r\n", http_target::malformed},
      {"GET /ready HTTP/1.1\r\n\r\n", http_target::ready},
      {"HEAD /ready?x=1 HTTP/1.0\r\n\r\n", http_target::ready},
  };
  for (const auto& [request, expected] : cases) {
    const auto head = parse_http_head(request);
    EXPECT_TRUE(head.complete) << request;
    EXPECT_EQ(head.target, expected) << request;
  }
}

TEST(http_request_test, only_http_1_0_and_1_1_are_versions) {
  for (const std::string version :
       {"HTTP/1.1garbage", "HTTP/1.", "HTTP/1.2", "HTTP/1.1 ", "http/1.1", "HTTP/1.10"}) {
    const auto request = "GET /metrics " + version + "\r\n\r\n";
    EXPECT_EQ(parse_http_head(request).target, http_target::malformed) << request;
  }
  EXPECT_EQ(parse_http_head("GET /metrics HTTP/1.0\r\n\r\n").target, http_target::metrics);
}

TEST(http_request_test, a_target_with_a_space_or_control_character_is_malformed) {
  for (const std::string target : {"/a b", "/metrics x", "/\tmetrics", "metrics", "/x\x7f"}) {
    const auto request = "GET " + target + " HTTP/1.1\r\n\r\n";
    EXPECT_EQ(parse_http_head(request).target, http_target::malformed) << request;
  }
}

}  // namespace
}  // namespace ringline::service
