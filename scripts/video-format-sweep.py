#!/usr/bin/env python3
"""Video formats sweep: generated clips in the formats intake sees, hashed three ways.

For each format (made with the ffmpeg command line from a lavfi test pattern):
  - exact vPDQ (`hashmatch hash --format vpdq`) against the reference hasher (`vpdq` from PyPI,
    `computeHash(path, seconds_per_hash=1)`) when it imports: frame numbers, qualities and hashes
    must be identical;
  - keyframes-only against every frame in exact mode: each key frame's hash must be the exact
    mode's hash of the frame with the same number (differences are printed with where the exact
    mode has that image: containers without PTS number key frames from their DTS, VFR files by
    time; docs/video.md).
Exit code 1 when the exact mode differs from the reference or a keyframes-only hash is nowhere in
the exact mode's frames.

  scripts/video-format-sweep.py [--hashmatch build/hashmatch] [--dir DIR] [--only SUBSTRING]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

SRC = "-f lavfi -i testsrc2=size=320x240:rate=25 -t 8"
X264 = "-c:v libx264 -preset veryfast -x264-params keyint=50"
FORMATS = {
    "h264_bpyramid.mp4": "-c:v libx264 -preset medium -bf 3 -x264-params keyint=50:b-pyramid=normal",
    "h264_mbaff.mp4": "-c:v libx264 -preset veryfast -flags +ildct+ilme -x264-params keyint=50:tff=1",
    "h264_slices.ts": X264 + ":slices=4",
    "h264_10bit.mkv": "-c:v libx264 -preset veryfast -pix_fmt yuv420p10le -x264-params keyint=50",
    "h264_444.mp4": "-c:v libx264 -preset veryfast -pix_fmt yuv444p -x264-params keyint=50",
    "h264.flv": X264,
    "h264_open_gop.mp4": X264 + ":open_gop=1",
    "h264_open_gop.ts": X264 + ":open_gop=1",
    "h264_intra_refresh.mp4": X264 + ":intra-refresh=1",
    "h264_vfr.mp4": X264 + " -vf setpts='if(lt(N\\,50)\\,N\\,N*2)/25/TB' -fps_mode vfr",
    "hevc_closed.mp4": "-c:v libx265 -preset ultrafast -x265-params keyint=50:open-gop=0:log-level=error",
    "hevc_open_gop.mkv": "-c:v libx265 -preset ultrafast "
                         "-x265-params keyint=250:min-keyint=250:scenecut=0:log-level=error -t 24",
    "hevc_10bit.mkv": "-c:v libx265 -preset ultrafast -pix_fmt yuv420p10le "
                      "-x265-params keyint=50:log-level=error",
    "vp8.webm": "-c:v libvpx -deadline realtime -cpu-used 8 -g 50 -auto-alt-ref 1 -lag-in-frames 10",
    "vp9_altref.webm": "-c:v libvpx-vp9 -deadline good -cpu-used 4 -auto-alt-ref 1 "
                       "-lag-in-frames 16 -g 50",
    "av1_svt.mkv": "-c:v libsvtav1 -preset 10 -g 50",
    "vp9.ivf": "-c:v libvpx-vp9 -deadline realtime -cpu-used 8 -g 50",
    "av1_aom.ivf": "-c:v libaom-av1 -cpu-used 8 -g 50 -lag-in-frames 10",
    "av1_aom.mkv": "-c:v libaom-av1 -cpu-used 8 -g 50 -lag-in-frames 10",
    "mpeg4_bframes.avi": "-c:v mpeg4 -bf 2 -g 50",
    "mpeg4_bframes.mp4": "-c:v mpeg4 -bf 2 -g 50",
    "mpeg2.mpg": "-c:v mpeg2video -bf 2 -g 50",
    "mjpeg.avi": "-c:v mjpeg",
    "prores.mov": "-c:v prores_ks -profile:v 0",
    "h263.3gp": "-c:v h263 -g 50 -vf scale=176:144",
    "theora.ogv": "-c:v libtheora -g 50",
    "wmv2.asf": "-c:v wmv2 -g 50",
    "h264_bt709.mp4": X264 + " -colorspace bt709 -color_primaries bt709 -color_trc bt709",
    "h264_full_range.mp4": X264 + " -pix_fmt yuvj420p",
    "h264_422.mkv": X264 + " -pix_fmt yuv422p",
    "h264_rotate90.mp4": X264 + " -metadata:s:v rotate=90",
    "h264_sar2.mp4": X264 + " -vf setsar=2/1",
    "vp9_odd_size.webm": "-c:v libvpx-vp9 -deadline realtime -cpu-used 8 -g 50 -vf scale=161:121",
    "mjpeg_tiny.avi": "-c:v mjpeg -vf scale=33:17",
    "ffv1_gray.mkv": "-c:v ffv1 -pix_fmt gray",
    "ffv1_rgb.mkv": "-c:v ffv1 -pix_fmt bgr0",
    "png.mov": "-c:v png",
    # Added 2026-11-24: high bit depths, 4:2:2 / 4:4:4, alpha, intermediate and legacy codecs.
    "vp9_10bit.webm": "-c:v libvpx-vp9 -pix_fmt yuv420p10le -deadline realtime -cpu-used 8 -g 50",
    "av1_10bit.mkv": "-c:v libaom-av1 -pix_fmt yuv420p10le -cpu-used 8 -g 50",
    "h264_422_10bit.mov": "-c:v libx264 -preset veryfast -pix_fmt yuv422p10le -g 50",
    "hevc_444_12bit.mkv": "-c:v libx265 -preset ultrafast -pix_fmt yuv444p12le "
                          "-x265-params keyint=50:log-level=error",
    "prores4444_alpha.mov": "-c:v prores_ks -profile:v 4 -pix_fmt yuva444p10le",
    "dnxhr_720p.mov": "-c:v dnxhd -profile:v dnxhr_sq -vf scale=1280:720",
    "mpeg2_422.mxf": "-c:v mpeg2video -pix_fmt yuv422p -b:v 10M -g 12 -vf scale=720:576",
    "qtrle_argb.mov": "-c:v qtrle -pix_fmt argb",
    "huffyuv.avi": "-c:v huffyuv",
    "h264_gray.mp4": X264 + " -vf format=gray",
    "mpeg1.mpg": "-c:v mpeg1video -g 12",
    "flv1.flv": "-c:v flv1",
    "msmpeg4v2.avi": "-c:v msmpeg4v2",
    "raw_bgr24.avi": "-c:v rawvideo -pix_fmt bgr24",
    # Added 2026-11-24 (afternoon): widths that are not a multiple of 8 at even heights (swscale's
    # x86 YUV -> RGB path; their last width % 8 columns were black before 2026-11-24 15:30 UTC).
    "h264_854x480.mp4": X264 + " -vf scale=854:480",
    "vp9_646x360.webm": "-c:v libvpx-vp9 -deadline realtime -cpu-used 8 -g 50 -vf scale=646:360",
    "h264_422_326w.mkv": X264 + " -pix_fmt yuv422p -vf scale=326:240",
    "hevc_full_range_322w.mkv": "-c:v libx265 -preset ultrafast -pix_fmt yuvj420p "
                                "-x265-params keyint=50:log-level=error -vf scale=322:240",
}


def hash_json(hm, path, *flags):
    out = subprocess.run([hm, "hash", *flags, path], capture_output=True, text=True)
    return json.loads(out.stdout.splitlines()[0])


def reference(path):
    try:
        import vpdq  # noqa: PLC0415 (optional)
    except ImportError:
        return None
    return [(f.frame_number, f.quality, f.hex) for f in vpdq.computeHash(path, seconds_per_hash=1.0)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hashmatch", default="build/hashmatch")
    ap.add_argument("--dir", default=None, help="where the clips go (default: a temporary folder)")
    ap.add_argument("--only", default="", help="formats whose name contains this")
    a = ap.parse_args()
    d = a.dir or tempfile.mkdtemp(prefix="video-sweep-")
    os.makedirs(d, exist_ok=True)
    failed = False
    for name, args in FORMATS.items():
        if a.only not in name:
            continue
        path = os.path.join(d, name)
        r = subprocess.run(f"ffmpeg -nostdin -hide_banner -loglevel error -y {SRC} {args} '{path}'",
                           shell=True, capture_output=True, text=True)
        if r.returncode != 0:
            print(f"{name}: not generated (this ffmpeg lacks the encoder?): {r.stderr.strip()[:100]}")
            continue
        line = [name]
        exact = hash_json(a.hashmatch, path)
        ref = reference(path)
        if ref is not None:
            ours = [(f["frame"], f["quality"], f["pdq"]) for f in exact.get("vpdq", [])]
            same = ours == ref
            failed |= not same
            line.append(f"reference: {'identical' if same else 'DIFFERENT'} ({len(ref)} frames)")
        key = hash_json(a.hashmatch, path, "--vpdq-keyframes-only")
        every = hash_json(a.hashmatch, path, "--vpdq-every-frame")
        if "error" in key or "error" in every:
            failed = True
            line.append(f"ERROR {key.get('error', '')} {every.get('error', '')}")
            print("; ".join(line))
            continue
        frames = {f["frame"]: f["pdq"] for f in every["vpdq"]}
        off = []
        for f in key["vpdq"]:
            if frames.get(f["frame"]) != f["pdq"]:
                where = [n for n, h in frames.items() if h == f["pdq"]]
                failed |= not where
                off.append(f"{f['frame']}->{where[:2]}")
        line.append(f"keyframes-only: {len(key['vpdq'])} key frame(s)"
                    + (f", numbered elsewhere: {' '.join(off)}" if off else ", as the exact mode"))
        note = key.get("video", {}).get("note", "")
        if "no picture" in note:
            line.append(note)
        print("; ".join(line))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
