"""Writes artist/album/title/track tags (and, on the album "Red Room", a front cover) into
the files of a demo library, as a tagger would, so that `timbre scan` reads them with TagLib.

    python tag_library.py MUSIC_DIR [--artist-prefix NAME]

Files are sorted by name and dealt round-robin over two artists and two albums each. Prints one
JSON line per file: {"path", "artist", "album", "title", "cover"} (cover: the PNG's bytes in
hex, or null) for the client test to compare against.
"""
import argparse
import json
import pathlib
import struct
import zlib

import mutagen
from mutagen.flac import FLAC, Picture
from mutagen.id3 import APIC, ID3, TALB, TIT2, TPE1, TRCK
from mutagen.mp3 import MP3


def tiny_png(red, green, blue):
    """A 2x2 PNG of one colour (a valid image, so clients could show it)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + bytes([red, green, blue]) * 2 for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def tag(path, artist, album, title, number, cover):
    if path.suffix == ".flac":
        audio = FLAC(path)
        audio["artist"], audio["album"], audio["title"], audio["tracknumber"] = artist, album, title, str(number)
        if cover:
            picture = Picture()
            picture.type, picture.mime, picture.data, picture.width, picture.height, picture.depth = 3, "image/png", cover, 2, 2, 24
            audio.add_picture(picture)
        audio.save()
    elif path.suffix == ".mp3":
        audio = MP3(path)
        if audio.tags is None:
            audio.add_tags()
        audio.tags.add(TPE1(encoding=3, text=artist))
        audio.tags.add(TALB(encoding=3, text=album))
        audio.tags.add(TIT2(encoding=3, text=title))
        audio.tags.add(TRCK(encoding=3, text=str(number)))
        if cover:
            audio.tags.add(APIC(encoding=3, mime="image/png", type=3, desc="cover", data=cover))
        audio.save()
    else:
        return False
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("music")
    parser.add_argument("--artist-prefix", default="")
    args = parser.parse_args()
    files = sorted(p for p in pathlib.Path(args.music).rglob("*") if p.suffix in (".flac", ".mp3"))
    albums = [("Ada Lovelace", "Red Room"), ("Ada Lovelace", "Blue Hour"), ("The Babbage Band", "Engines")]
    cover = tiny_png(200, 30, 40)
    for index, path in enumerate(files):
        artist, album = albums[index % len(albums)]
        artist = args.artist_prefix + artist
        title = f"Song {index + 1:02d}"
        with_cover = cover if album == "Red Room" else None
        if tag(path, artist, album, title, index + 1, with_cover):
            print(json.dumps({"path": str(path), "artist": artist, "album": album, "title": title,
                              "cover": with_cover.hex() if with_cover else None}))


if __name__ == "__main__":
    main()
