#include "controller/render/compact.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "controller/nomad/codec.h"
#include "controller/spec/loader.h"
#include "controller/timing/budget.h"

namespace nsg::render {
namespace {

namespace fs = std::filesystem;

std::vector<Rendered> RenderShapes() {
  const fs::path p = fs::path(NSG_SOURCE_DIR) / "tests/render/specs/shapes.yaml";
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  spec::LoadResult r =
      spec::LoadSpecs({{"tests/render/specs/shapes.yaml", ss.str()}}, timing::CheckTimerRule);
  for (const auto& e : r.errors) ADD_FAILURE() << e.ToString();
  std::vector<Rendered> out;
  for (const auto& s : r.valid) {
    auto rendered = Render(s, {.source_path = "", .git_revision = "0123abcd"});
    EXPECT_TRUE(rendered.ok()) << s.Key() << ": " << rendered.status().ToString();
    if (rendered.ok()) out.push_back(std::move(rendered).value());
  }
  return out;
}

// What the controller keeps gives back exactly what was rendered: the job decoded, its bytes as
// EncodeJob writes them, the summary every plan reads, the policy and the hash.
TEST(CompactRenderedTest, EveryShapeGivesBackWhatWasRendered) {
  const auto shapes = RenderShapes();
  ASSERT_EQ(shapes.size(), 11u);
  for (const Rendered& r : shapes) {
    SCOPED_TRACE(r.job.id);
    const CompactRendered c = CompactRendered::From(r);
    auto encoded = c.EncodedJob();
    ASSERT_TRUE(encoded.ok()) << encoded.status().ToString();
    EXPECT_EQ(**encoded, nomad::EncodeJob(r.job));
    auto whole = c.Job();
    ASSERT_TRUE(whole.ok()) << whole.status().ToString();
    EXPECT_EQ(*whole, r.job);
    EXPECT_EQ(nomad::WholeOf(c.summary), nomad::JobSummary(r.job));
    EXPECT_EQ(c.policy, r.policy);
    EXPECT_EQ(c.spec_hash, r.spec_hash);
    // Kept deflated against the preset dictionary: 5-10x on the shapes.
    EXPECT_LT(c.kept_bytes() * 4, (*encoded)->size());
  }
}

// The register body made from the kept bytes is the one the job's own encoding makes, byte for
// byte: what Nomad receives does not depend on the form the controller kept.
TEST(CompactRenderedTest, TheRegisterBodyFromTheKeptBytesIsTheEncodersOwn) {
  for (const Rendered& r : RenderShapes()) {
    SCOPED_TRACE(r.job.id);
    const CompactRendered c = CompactRendered::From(r);
    for (const auto& [enforce, index] : {std::pair{true, uint64_t{0}}, {true, uint64_t{4711}},
                                         {false, uint64_t{0}}}) {
      nomad::RegisterRequest kept;
      kept.job.id = r.job.id;
      kept.job.namespace_ = r.job.namespace_;
      kept.enforce_index = enforce;
      kept.job_modify_index = index;
      kept.encoded_job = *c.EncodedJob();
      EXPECT_EQ(nomad::EncodeRegisterRequest(kept),
                nomad::EncodeRegisterRequest(nomad::RegisterRequest(r.job, enforce, index)));
      // Another layout (the `render` command's) comes from the decoded job, never from the
      // ID-only `job`.
      EXPECT_EQ(nomad::EncodeRegisterRequest(kept, {.pretty = true}),
                nomad::EncodeRegisterRequest(nomad::RegisterRequest(r.job, enforce, index),
                                             {.pretty = true}));
      auto back = nomad::DecodeRegisterRequest(nomad::EncodeRegisterRequest(kept));
      ASSERT_TRUE(back.ok()) << back.status().ToString();
      EXPECT_EQ(back->job, r.job);
      auto registered = nomad::RegisteredJob(kept);
      ASSERT_TRUE(registered.ok());
      EXPECT_EQ(*registered, r.job);
    }
  }
}

TEST(CompactRenderedTest, InflateRefusesWhatIsNotAWholeStreamOfTheSize) {
  const std::string text(3000, 'x');
  const std::string z = Deflate(text + "tail");
  ASSERT_FALSE(z.empty());
  auto back = Inflate(z, text.size() + 4);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, text + "tail");
  EXPECT_EQ(Inflate(z, text.size()).status().code(), base::StatusCode::kInternal);  // too short
  EXPECT_EQ(Inflate(z, text.size() + 5).status().code(), base::StatusCode::kInternal);  // too long
  EXPECT_EQ(Inflate(z.substr(0, z.size() / 2), text.size() + 4).status().code(),
            base::StatusCode::kInternal);  // truncated
  std::string flipped = z;
  flipped[flipped.size() / 2] ^= 0x5a;
  auto corrupt = Inflate(flipped, text.size() + 4);
  // A flipped bit is caught by the stream's structure or its Adler-32 trailer.
  EXPECT_EQ(corrupt.status().code(), base::StatusCode::kInternal);
}

}  // namespace
}  // namespace nsg::render
