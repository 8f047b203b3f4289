// Tests that the fake Dora API (fake_dora/) has the shape of the header Dora's cxx bridge generates
// (Dora's main): the compile-time checks of bridge_shape.hpp, and failures thrown as a type derived
// from std::exception that the caller cannot name (there is no rust::Error). rc3_api_test.cpp checks
// the rc.3/rc.4 shape the same way.
#include <gtest/gtest.h>

#include <exception>
#include <string>

#define DCP_DORA_HAS_INPUT_METADATA 1
#include "bridge_shape.hpp"
#include "fake_dora.hpp"

namespace {

#ifdef FAKE_DORA_RC3
#error "this test is built against the main shape of the fake Dora API"
#endif

TEST(FakeDoraBridge, InitThatFails_ThrowsAStdExceptionCarryingDorasMessage) {
  fake_dora::reset();
  fake_dora::fail_init("daemon unreachable");
  std::string message;
  try {
    (void)init_dora_node();
  } catch (const std::exception& error) {
    message = error.what();
  }
  EXPECT_EQ(message, "daemon unreachable");
}

TEST(FakeDoraBridge, MetadataGetterOfAMissingKey_ThrowsAStdException) {
  rust::Box<::Metadata> metadata = new_metadata();
  metadata->set_int("frame", 3);
  EXPECT_EQ(metadata->get_int("frame"), 3);
  EXPECT_THROW((void)metadata->get_int("missing"), std::exception);
  EXPECT_THROW((void)metadata->get_bool("frame"), std::exception) << "another type";
}

}  // namespace
