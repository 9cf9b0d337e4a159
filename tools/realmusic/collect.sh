#!/usr/bin/env bash
# Real recordings for the model-quality work, one folder per Debian package (a soundtrack):
#   tools/realmusic/collect.sh [OUT]         (default data/realmusic; installs what is missing)
# Only the packages the model-quality issue names for training and tuning; music from any other
# Debian package is the project's held-out evaluation and is never collected here. Two of them
# are held out of training for same-soundtrack checks (`timbre evaluate-retrieval`):
#   OUT/heldout/{supertuxkart-data,ufoai-music}   never trained or tuned on
#   OUT/train/{the other nine}                    training and tuning
# Music only: sound effects, jingles under 20 s and duplicate files (drascula ships each track
# once per language) are left out; tracker modules (.xm) and raw PCM are not audio Timbre reads.
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-data/realmusic}"
packages=(nexuiz-music ufoai-music planetblupi-music-ogg drascula-music asc-music xblast-tnt-musics
          fb-music-high extremetuxracer-data flare-game freedroidrpg-data supertuxkart-data)
heldout=" supertuxkart-data ufoai-music "
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "collect: install ${missing[*]} (as root: apt-get install -y ${missing[*]})" >&2; exit 2; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" unzip >/dev/null
fi
command -v unzip >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq unzip >/dev/null; }
timbre="${TIMBRE:-$(command -v timbre || echo .build/release/timbre)}"
[ -x "$timbre" ] || { echo "collect: build timbre first (swift build -c release) or set TIMBRE" >&2; exit 2; }
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT

# The music files of a package, one path per line (archives unpacked into $tmp).
music_of() {
  case "$1" in
    nexuiz-music) unzip -q -o /usr/share/games/nexuiz/data/music.pk3 'sound/cdtracks/*.ogg' -d "$tmp/$1"
                  find "$tmp/$1" -name '*.ogg' ;;
    ufoai-music) unzip -q -o /usr/share/games/ufoai/base/0music.pk3 '*.ogg' -d "$tmp/$1"
                 find "$tmp/$1" -name '*.ogg' ;;
    drascula-music) dpkg -L "$1" | grep '/drascula/audio/.*\.ogg$' ;;
    freedroidrpg-data) dpkg -L "$1" | grep '/sound/music/.*\.ogg$' ;;
    supertuxkart-data) dpkg -L "$1" | grep '/data/music/.*\.ogg$' ;;
    flare-game) dpkg -L "$1" | grep -i '/music/.*\.ogg$' ;;
    extremetuxracer-data) dpkg -L "$1" | grep '/music/.*\.ogg$' ;;
    *) dpkg -L "$1" | grep -iE '\.(ogg|mp3|flac|wav|opus)$' | grep -viE '/(sounds?|sfx|effects)/' || true ;;
  esac
}

total=0
for p in "${packages[@]}"; do
  case "$heldout" in *" $p "*) dir="$out/heldout/$p" ;; *) dir="$out/train/$p" ;; esac
  mkdir -p "$dir"
  n=0
  declare -A seen=()
  while IFS= read -r f; do
    [ -f "$f" ] || continue
    sum="$(md5sum < "$f" | cut -c1-32)"
    [ -z "${seen[$sum]:-}" ] || continue
    seen[$sum]=1
    seconds="$("$timbre" info "$f" 2>/dev/null | sed -n 's/^  duration .*(\([0-9.]*\) s)$/\1/p')"
    awk -v s="${seconds:-0}" 'BEGIN { exit !(s + 0 >= 20) }' || continue
    cp -f "$f" "$dir/$(basename "$f")"
    n=$((n + 1))
  done < <(music_of "$p")
  unset seen
  echo "$p: $n tracks in $dir"
  [ "$n" -gt 0 ] || rmdir "$dir"
  total=$((total + n))
done
echo "collected $total tracks under $out"
