// Checking helpers for the rcgc.hpp tests: every check is exact, prints both
// sides on failure and exits 1 at the first one that fails.
#ifndef RCGC_TEST_CHECK_HPP
#define RCGC_TEST_CHECK_HPP

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "rcgc.hpp"

namespace check {
inline unsigned long count = 0;

inline void fail(const char *file, int line, const std::string &what) {
  std::fprintf(stderr, "%s:%d: %s\n  rcgc_last_error(): %s\n", file, line, what.c_str(),
               rcgc_last_error());
  std::exit(1);
}
}  // namespace check

#define CHECK(cond)                                                                  \
  do {                                                                               \
    check::count++;                                                                  \
    if (!(cond)) check::fail(__FILE__, __LINE__, std::string("CHECK failed: ") + #cond); \
  } while (0)

#define CHECK_EQ(actual, expected)                                                   \
  do {                                                                               \
    unsigned long long check_a_ = static_cast<unsigned long long>(actual);           \
    unsigned long long check_e_ = static_cast<unsigned long long>(expected);         \
    check::count++;                                                                  \
    if (check_a_ != check_e_)                                                        \
      check::fail(__FILE__, __LINE__,                                                \
                  std::string("CHECK_EQ failed: ") + #actual + " == " +              \
                      std::to_string(check_a_) + ", expected " + #expected + " == " + \
                      std::to_string(check_e_));                                     \
  } while (0)

#define CHECK_STR(actual, expected)                                                  \
  do {                                                                               \
    std::string check_a_ = (actual);                                                 \
    std::string check_e_ = (expected);                                               \
    check::count++;                                                                  \
    if (check_a_ != check_e_)                                                        \
      check::fail(__FILE__, __LINE__,                                                \
                  std::string("CHECK_STR failed: ") + #actual + " is \"" + check_a_ +  \
                      "\", expected \"" + check_e_ + "\"");                          \
  } while (0)

// `stmt` must throw rcgc::error with this code and exactly this message.
#define CHECK_THROWS(stmt, expected_code, expected_message)                          \
  do {                                                                               \
    check::count++;                                                                  \
    bool check_thrown_ = false;                                                      \
    try {                                                                            \
      stmt;                                                                          \
    } catch (const rcgc::error &check_e_) {                                          \
      check_thrown_ = true;                                                          \
      if (check_e_.code() != (expected_code))                                        \
        check::fail(__FILE__, __LINE__,                                              \
                    std::string(#stmt " threw ") + check_e_.name() + ", expected " + \
                        rcgc_result_name(expected_code));                            \
      if (std::string(check_e_.what()) != (expected_message))                        \
        check::fail(__FILE__, __LINE__,                                              \
                    std::string(#stmt " threw \"") + check_e_.what() +               \
                        "\", expected \"" + (expected_message) + "\"");              \
    }                                                                                \
    if (!check_thrown_) check::fail(__FILE__, __LINE__, #stmt " did not throw");     \
  } while (0)

#define CHECK_COUNTS(h, c0, c1, c2)                                                  \
  do {                                                                               \
    rcgc_counts check_c_ = (h).get_count();                                          \
    CHECK_EQ(check_c_.gen0, c0);                                                     \
    CHECK_EQ(check_c_.gen1, c1);                                                     \
    CHECK_EQ(check_c_.gen2, c2);                                                     \
  } while (0)

#define CHECK_LIVE(h, n) CHECK_EQ((h).stats().live_objects, n)

#define DONE(name)                                                                   \
  do {                                                                               \
    std::printf("%s: %lu checks passed\n", name, check::count);                      \
    return 0;                                                                        \
  } while (0)

#endif  // RCGC_TEST_CHECK_HPP
