// Which streams NVDEC is asked to decode (video/nvdec.h, stream_supported): a stream FFmpeg 5.1's
// CUDA hwaccel cannot take would fall back to FFmpeg's software decoder inside it, on the NVDEC
// session's single thread and holding its slot. Judged from codec parameters alone (no GPU), and
// from real clips' parameters as the demuxer gives them, with and without FFmpeg's probe (an
// MP4's H.264 stream is opened without it, so its pixel format is not known yet).
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "tests/video/clips.h"
#include "video/ffmpeg_util.h"
#include "video/nvdec.h"

extern "C" {
#include <libavutil/pixdesc.h>
}

namespace hashmatch::video {
namespace {

struct Case {
  AVCodecID codec;
  AVPixelFormat format;
  bool supported;
};

TEST(NvdecChoice, PixelFormatsPerCodec) {
  const Case cases[] = {
      {AV_CODEC_ID_H264, AV_PIX_FMT_YUV420P, true},
      {AV_CODEC_ID_H264, AV_PIX_FMT_YUVJ420P, true},
      {AV_CODEC_ID_H264, AV_PIX_FMT_NONE, true},  // not known yet: tried
      {AV_CODEC_ID_H264, AV_PIX_FMT_GRAY8, true},  // FFmpeg's hwaccel decides
      {AV_CODEC_ID_H264, AV_PIX_FMT_YUV422P, false},
      {AV_CODEC_ID_H264, AV_PIX_FMT_YUV444P, false},
      {AV_CODEC_ID_H264, AV_PIX_FMT_YUV420P10LE, false},
      {AV_CODEC_ID_H264, AV_PIX_FMT_GBRP, false},
      {AV_CODEC_ID_HEVC, AV_PIX_FMT_YUV420P, true},
      {AV_CODEC_ID_HEVC, AV_PIX_FMT_YUV420P10LE, true},
      {AV_CODEC_ID_HEVC, AV_PIX_FMT_YUV420P12LE, true},
      {AV_CODEC_ID_HEVC, AV_PIX_FMT_YUV444P, true},
      {AV_CODEC_ID_HEVC, AV_PIX_FMT_YUV444P12LE, true},
      {AV_CODEC_ID_HEVC, AV_PIX_FMT_YUV422P10LE, false},
      {AV_CODEC_ID_VP9, AV_PIX_FMT_YUV420P12LE, true},
      {AV_CODEC_ID_VP9, AV_PIX_FMT_YUV444P, false},
      {AV_CODEC_ID_AV1, AV_PIX_FMT_YUV420P10LE, true},
      {AV_CODEC_ID_AV1, AV_PIX_FMT_YUV420P12LE, false},
      {AV_CODEC_ID_MPEG2VIDEO, AV_PIX_FMT_YUV420P, true},
      {AV_CODEC_ID_MPEG2VIDEO, AV_PIX_FMT_YUV422P, false},
      {AV_CODEC_ID_MPEG4, AV_PIX_FMT_YUV420P, true},
  };
  for (const Case& c : cases) {
    AVCodecParameters* par = avcodec_parameters_alloc();
    ASSERT_NE(par, nullptr);
    par->codec_type = AVMEDIA_TYPE_VIDEO;
    par->codec_id = c.codec;
    par->format = c.format;
    std::string why;
    const bool ok = nvdec::stream_supported(par, &why);
    const char* f = c.format == AV_PIX_FMT_NONE ? "none" : av_get_pix_fmt_name(c.format);
    EXPECT_EQ(ok, c.supported) << avcodec_get_name(c.codec) << " " << f << ": " << why;
    if (!ok) {
      EXPECT_NE(why.find("NVDEC does not decode"), std::string::npos) << why;
      EXPECT_NE(why.find(f), std::string::npos) << why;
    }
    avcodec_parameters_free(&par);
  }
}

TEST(NvdecChoice, H264ProfileFromTheAvccBeforeTheFormatIsKnown) {
  for (const int profile : {66, 77, 100, 110, 122, 244, 44}) {
    AVCodecParameters* par = avcodec_parameters_alloc();
    ASSERT_NE(par, nullptr);
    par->codec_id = AV_CODEC_ID_H264;
    par->format = AV_PIX_FMT_NONE;
    par->profile = FF_PROFILE_UNKNOWN;
    const uint8_t avcc[] = {1, static_cast<uint8_t>(profile), 0, 40, 0xFF, 0xE0, 0};
    par->extradata = static_cast<uint8_t*>(av_mallocz(sizeof(avcc) + AV_INPUT_BUFFER_PADDING_SIZE));
    ASSERT_NE(par->extradata, nullptr);
    std::copy(std::begin(avcc), std::end(avcc), par->extradata);
    par->extradata_size = sizeof(avcc);
    const bool want = profile == 66 || profile == 77 || profile == 100;
    EXPECT_EQ(nvdec::stream_supported(par, nullptr), want) << "avcC profile " << profile;
    // The same from the profile field (Annex B streams after the probe), constraint flags set.
    av_freep(&par->extradata);
    par->extradata_size = 0;
    par->profile = profile | FF_PROFILE_H264_CONSTRAINED;
    EXPECT_EQ(nvdec::stream_supported(par, nullptr), want) << "profile " << profile;
    avcodec_parameters_free(&par);
  }
}

struct ClipCase {
  const char* name;
  const char* args;
  bool supported;
};

// Real files: the demuxer's parameters, probed and (MP4 H.264) not.
TEST(NvdecChoice, ClipsAsTheDemuxerOpensThem) {
  const std::string src = "-f lavfi -i testsrc2=size=320x240:rate=25 -t 1 ";
  const ClipCase clips[] = {
      {"h420.mp4", "-c:v libx264 -preset ultrafast -pix_fmt yuv420p", true},
      {"h422.mp4", "-c:v libx264 -preset ultrafast -pix_fmt yuv422p", false},
      {"h444.mp4", "-c:v libx264 -preset ultrafast -pix_fmt yuv444p", false},
      {"h10.mkv", "-c:v libx264 -preset ultrafast -pix_fmt yuv420p10le", false},
      {"h422.ts", "-c:v libx264 -preset ultrafast -pix_fmt yuv422p", false},
      {"x10.mp4", "-c:v libx265 -preset ultrafast -pix_fmt yuv420p10le -x265-params log-level=error", true},
      {"x422.mkv", "-c:v libx265 -preset ultrafast -pix_fmt yuv422p10le -x265-params log-level=error", false},
      {"m2_422.ts", "-c:v mpeg2video -pix_fmt yuv422p", false},
      {"vp9.webm", "-c:v libvpx-vp9 -deadline realtime -cpu-used 8 -pix_fmt yuv420p", true},
  };
  for (const ClipCase& c : clips) {
    const auto path = test::make_clip(test::clip_dir(), c.name, src + c.args);
    ASSERT_FALSE(path.empty()) << c.name;
    for (const bool probe : {false, true}) {
      ff::Demuxer d(std::make_unique<ff::FileSource>(path.string()),
                    ff::Demuxer::Clock::now() + std::chrono::seconds(60));
      ASSERT_GE(d.open(probe), 0) << c.name;
      const int s = ff::first_video_stream(d.get());
      ASSERT_GE(s, 0) << c.name;
      std::string why;
      EXPECT_EQ(nvdec::stream_supported(d.get()->streams[s]->codecpar, &why), c.supported)
          << c.name << (probe ? " probed" : " unprobed") << ": " << why;
    }
  }
}

TEST(NvdecChoice, RefusedStreamsAreRememberedTheLast256) {
  const std::string a = "refused-test-a";
  EXPECT_FALSE(nvdec::refused(a));
  nvdec::note_refused(a);
  nvdec::note_refused(a);  // once only
  EXPECT_TRUE(nvdec::refused(a));
  for (int i = 0; i < 255; ++i) nvdec::note_refused("refused-test-" + std::to_string(i));
  EXPECT_TRUE(nvdec::refused(a));
  nvdec::note_refused("refused-test-one-more");
  EXPECT_FALSE(nvdec::refused(a));
  EXPECT_TRUE(nvdec::refused("refused-test-0"));
  EXPECT_TRUE(nvdec::refused("refused-test-one-more"));
}

}  // namespace
}  // namespace hashmatch::video
