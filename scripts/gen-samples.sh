#!/usr/bin/env bash
# Generates benign sample media for the demo and benchmarks: FFmpeg lavfi sources (test patterns,
# fractals, cellular automata, gradients) in several formats, plus transformed copies (resized,
# re-encoded, cropped, rotated), short lavfi video clips with a re-encoded copy, and one
# deliberately broken file. Nothing third-party is shipped.
#   usage: gen-samples.sh OUT_DIR [COUNT_PER_SOURCE]
set -euo pipefail
out=${1:?usage: gen-samples.sh OUT_DIR [COUNT_PER_SOURCE]}
count=${2:-3}
mkdir -p "$out/originals" "$out/copies"
ff() { ffmpeg -hide_banner -loglevel error -y "$@"; }
sources=(
  "testsrc2=size=1280x720:rate=1"
  "mandelbrot=size=1024x768:rate=1"
  "smptehdbars=size=1280x720:rate=1"
  "cellauto=size=800x600:rate=1:rule=110"
  "life=size=640x480:rate=1:mold=10:ratio=0.5:death_color=#203040:life_color=#e0c080"
  "gradients=size=1024x768:rate=1:n=5"
  "rgbtestsrc=size=640x480:rate=1"
)
i=0
for src in "${sources[@]}"; do
  name=${src%%=*}
  for ((k = 0; k < count; k++)); do
    i=$((i + 1))
    base="$out/originals/${name}-${k}"
    # Frame k+2 of each source (different content per k), seed varies where the source has one.
    spec=$src
    [[ $name == gradients ]] && spec="$src:seed=$((k + 7))"
    ff -f lavfi -i "$spec" -vf "select=eq(n\,$((k + 2)))" -frames:v 1 "$base.png"
    case $((i % 4)) in
      0) ff -i "$base.png" -q:v 3 "$base.jpg" ;;
      1) ff -i "$base.png" -lossless 0 -quality 85 "$base.webp" 2>/dev/null || ff -i "$base.png" "$base.bmp" ;;
      2) ff -i "$base.png" "$base.tiff" ;;
      3) ff -i "$base.png" -q:v 2 "$base.jpg" ;;
    esac
  done
done
# Transformed copies of a few originals: what the demo list and the matcher must still find.
n=0
for f in "$out"/originals/*-0.png; do
  b=$(basename "$f" .png)
  ff -i "$f" -vf "scale=iw/2:-2" -q:v 5 "$out/copies/${b}-half.jpg"
  ff -i "$f" -vf "crop=iw*0.9:ih*0.9" "$out/copies/${b}-crop90.png"
  ff -i "$f" -vf "transpose=1" "$out/copies/${b}-rot90.png"
  ff -i "$f" -q:v 12 "$out/copies/${b}-lowq.jpg"
  n=$((n + 1))
done
# Videos: two short lavfi clips, and a resized, re-encoded copy of the first (in another container).
mkdir -p "$out/videos"
ff -f lavfi -i "testsrc2=size=640x360:rate=25" -t 6 -pix_fmt yuv420p "$out/videos/testsrc2.mp4"
ff -f lavfi -i "mandelbrot=size=640x360:rate=25" -t 5 -pix_fmt yuv420p "$out/videos/mandelbrot.mp4"
ff -i "$out/videos/testsrc2.mp4" -vf "scale=480:-2" -q:v 8 "$out/copies/testsrc2-small.mkv"
# A broken file: the first half of a JPEG.
first=$(ls "$out"/originals/*.jpg | head -n 1)
head -c $(($(stat -c %s "$first") / 2)) "$first" > "$out/broken-truncated.jpg"
printf 'not an image\n' > "$out/readme.txt"
echo "gen-samples: $(find "$out" -type f | wc -l) files in $out"
