"""Drives a running `timbre serve` through its Subsonic endpoint with two real client libraries,
py-opensonic (OpenSubsonic, apiKey and token auth, form POST) and py-sonic (classic Subsonic,
token auth over GET), as a phone or desktop client would.

    python client_test.py --url http://127.0.0.1:PORT --user alice --password SUBSONIC_PASSWORD \
        --api-key tmb_... --other-api-key tmb_... --tags tags.jsonl

--tags is what tag_library.py printed for the user's library (path, artist, album, title,
cover). Prints one line per check and `N passed, N failed`; exits 1 on any failure.
"""
import argparse
import asyncio
import hashlib
import json
import sys
import time
import urllib.parse
import urllib.request

import libopensonic
import libsonic
from libopensonic import errors

results = {"passed": 0, "failed": 0}


def check(name, condition, detail=""):
    results["passed" if condition else "failed"] += 1
    print(("ok   " if condition else "FAIL ") + name + ("" if condition else f"  ({detail})"), flush=True)


def raw(base, endpoint, **arguments):
    """The subsonic-response object of a plain GET, f=json."""
    query = urllib.parse.urlencode({"f": "json", "v": "1.16.1", "c": "timbre-test", **arguments})
    with urllib.request.urlopen(f"{base}/rest/{endpoint}?{query}", timeout=60) as answer:
        return answer.status, json.load(answer)["subsonic-response"]


def split(url):
    parsed = urllib.parse.urlsplit(url)
    return f"{parsed.scheme}://{parsed.hostname}", parsed.port


async def opensonic_checks(args, tags):
    host, port = split(args.url)
    by_title = {t["title"]: t for t in tags}
    conn = libopensonic.AsyncConnection(host, api_key=args.api_key, port=port)
    token = libopensonic.AsyncConnection(host, username=args.user, password=args.password, port=port)
    wrong = libopensonic.AsyncConnection(host, username=args.user, password="wrong-" + args.password, port=port)
    other = libopensonic.AsyncConnection(host, api_key=args.other_api_key, port=port)
    try:
        check("py-opensonic: ping with apiKey", await conn.ping())
        check("py-opensonic: ping with a token (md5 of password and salt)", await token.ping())
        try:
            await wrong.ping()
            check("py-opensonic: a wrong password is refused", False, "ping succeeded")
        except errors.CredentialError:
            check("py-opensonic: a wrong password is error 40 (CredentialError)", True)
        extensions = {e.name: e.versions for e in await conn.get_open_subsonic_extensions()}
        check("py-opensonic: extensions list sonicSimilarity v1 and apiKeyAuthentication v1",
              extensions.get("sonicSimilarity") == [1] and extensions.get("apiKeyAuthentication") == [1], extensions)

        # py-opensonic 10.4.1's get_music_folders iterates the keys of `musicFolders` instead of
        # its `musicFolder` list (the shape the spec gives), so this one is read without it.
        _, answer = raw(args.url, "getMusicFolders", apiKey=args.api_key)
        folders = answer.get("musicFolders", {}).get("musicFolder", [])
        check("getMusicFolders: one music folder, as the spec shapes it", len(folders) == 1 and isinstance(folders[0].get("id"), int), answer)
        artists = await conn.get_artists()
        names = sorted(a.name for index in (artists.index or []) for a in (index.artist or []))
        expected_artists = sorted({t["artist"] for t in tags})
        check("py-opensonic: getArtists lists the files' artists", names == expected_artists, f"{names} vs {expected_artists}")
        albums = await conn.get_album_list2("alphabeticalByName", size=50)
        album_names = [a.name for a in albums]
        check("py-opensonic: getAlbumList2 alphabeticalByName", album_names == sorted({t["album"] for t in tags}), album_names)
        newest = await conn.get_album_list2("newest", size=50)
        check("py-opensonic: getAlbumList2 newest has every album", len(newest) == len(album_names), len(newest))
        red = next(a for a in albums if a.name == "Red Room")
        album = await conn.get_album(red.id)
        titles = sorted(s.title for s in album.song or [])
        check("py-opensonic: getAlbum has the album's songs",
              titles == sorted(t["title"] for t in tags if t["album"] == "Red Room"), titles)
        song = (album.song or [])[0]
        again = await conn.get_song(song.id)
        check("py-opensonic: getSong agrees with getAlbum", again.id == song.id and again.album_id == red.id, again)

        found = await conn.search3("Babbage")
        check("py-opensonic: search3 finds the artist, album and songs",
              [a.name for a in found.artist or []] == ["The Babbage Band"] and [a.name for a in found.album or []] == ["Engines"]
              and len(found.song or []) == sum(1 for t in tags if t["album"] == "Engines"), found)
        everything = await conn.search3("", song_count=500)
        check("py-opensonic: an empty search3 lists every song", len(everything.song or []) == len(tags), len(everything.song or []))

        stream = await conn.stream(song.id)
        data = await stream.read()
        path = by_title[song.title]["path"]
        with open(path, "rb") as file:
            original = file.read()
        check("py-opensonic: stream gives the file's bytes", data == original, f"{len(data)} vs {len(original)} bytes")
        check("py-opensonic: stream's Content-Type is the format's",
              stream.headers.get("Content-Type") in ("audio/flac", "audio/mpeg"), stream.headers.get("Content-Type"))
        cover = await conn.get_cover_art(red.id)
        picture = await cover.read()
        check("py-opensonic: getCoverArt of an album gives the embedded picture",
              picture.hex() == next(t["cover"] for t in tags if t["album"] == "Red Room") and cover.headers.get("Content-Type") == "image/png",
              f"{len(picture)} bytes, {cover.headers.get('Content-Type')}")
        engines = next(a for a in albums if a.name == "Engines")
        try:
            await conn.get_cover_art(engines.id)
            check("py-opensonic: an album without a picture has no cover", False, "got bytes")
        except errors.DataNotFoundError:
            check("py-opensonic: an album without a picture is error 70 (DataNotFoundError)", True)

        genres = await conn.get_genres()
        check("py-opensonic: getGenres lists Timbre's tags with counts",
              len(genres) > 0 and all(g.song_count > 0 and g.album_count > 0 for g in genres), genres[:3])

        similar = await conn.get_similar_songs2(song.id, count=5)
        check("py-opensonic: getSimilarSongs2 gives other songs of the library",
              0 < len(similar) <= 5 and song.id not in [s.id for s in similar], [s.id for s in similar])
        sonic = await conn.get_sonic_similar_tracks(song.id, count=4)
        scores = [m.similarity for m in sonic]
        check("py-opensonic: getSonicSimilarTracks gives sonicMatch entries, best first, in [0, 1]",
              len(sonic) == 4 and scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
              and all(m.entry.id != song.id for m in sonic), scores)
        last = everything.song[-1]
        path_matches = await conn.find_sonic_path(song.id, last.id, count=5)
        ids = [m.entry.id for m in path_matches]
        check("py-opensonic: findSonicPath starts and ends with the given songs",
              len(ids) == 5 and ids[0] == song.id and ids[-1] == last.id and len(set(ids)) == 5, ids)
        check("py-opensonic: findSonicPath's similarity is to the start (1 for the start itself)",
              abs(path_matches[0].similarity - 1) < 1e-6 and all(0 <= m.similarity <= 1 for m in path_matches),
              [m.similarity for m in path_matches])

        # The other user sees none of this.
        try:
            await other.get_song(song.id)
            check("py-opensonic: another user's song is invisible", False, "getSong answered")
        except errors.DataNotFoundError:
            check("py-opensonic: another user's song is error 70 for them", True)
        theirs = await other.search3("", song_count=500)
        check("py-opensonic: another user's search holds none of these songs",
              not ({s.id for s in theirs.song or []} & {s.id for s in everything.song or []}), len(theirs.song or []))
        return song.id
    finally:
        for connection in (conn, token, wrong, other):
            if connection._sess:  # py-opensonic keeps an aiohttp session and offers no close()
                await connection._sess.close()


def sonic_checks(args, tags, song_id):
    host, port = split(args.url)
    conn = libsonic.Connection(host, args.user, args.password, port=port, appName="timbre-test")
    check("py-sonic: ping with a token", conn.ping())
    artists = conn.getArtists()["artists"]
    names = sorted(a["name"] for index in artists.get("index", []) for a in index.get("artist", []))
    check("py-sonic: getArtists", names == sorted({t["artist"] for t in tags}), names)
    albums = conn.getAlbumList2("alphabeticalByArtist", size=50)["albumList2"]["album"]
    check("py-sonic: getAlbumList2 alphabeticalByArtist",
          [a["artist"] for a in albums] == sorted((a["artist"] for a in albums), key=str.lower), [a["artist"] for a in albums])
    found = conn.search3("Song 01")["searchResult3"]
    check("py-sonic: search3 by title", [s["title"] for s in found.get("song", [])] == ["Song 01"], found)
    song = conn.getSong(song_id)["song"]
    stream = conn.stream(song_id)
    data = stream.read()
    with open(next(t["path"] for t in tags if t["title"] == song["title"]), "rb") as file:
        check("py-sonic: stream gives the file's bytes", data == file.read(), len(data))
    similar = conn.getSimilarSongs2(song_id, count=3)["similarSongs2"].get("song", [])
    check("py-sonic: getSimilarSongs2", 0 < len(similar) <= 3, similar)
    by_genre = conn.getGenres()["genres"]["genre"]
    first = by_genre[0] if isinstance(by_genre, list) else by_genre
    albums = conn.getAlbumList2("byGenre", size=50, genre=first["value"])["albumList2"].get("album", [])
    check("py-sonic: getAlbumList2 byGenre agrees with getGenres' album count", len(albums) == first["albumCount"], (first, len(albums)))


def code_checks(args):
    salt = "a1b2c3"
    _, answer = raw(args.url, "ping", u=args.user, t=hashlib.md5(("nope" + salt).encode()).hexdigest(), s=salt)
    check("a wrong token is error 40", answer.get("error", {}).get("code") == 40, answer)
    status, answer = raw(args.url, "ping", u=args.user, p="nope")
    check("a wrong password is error 40, with HTTP 200", status == 200 and answer.get("error", {}).get("code") == 40, answer)
    _, answer = raw(args.url, "ping", apiKey="tmb_unknown")
    check("an unknown apiKey is error 44", answer.get("error", {}).get("code") == 44, answer)
    _, answer = raw(args.url, "ping", u="bob", t=hashlib.md5(("x" + salt).encode()).hexdigest(), s=salt)
    check("token auth for a user without a Subsonic password is error 41", answer.get("error", {}).get("code") == 41, answer)
    _, answer = raw(args.url, "getSong", apiKey=args.api_key)
    check("a missing parameter is error 10", answer.get("error", {}).get("code") == 10, answer)
    with urllib.request.urlopen(f"{args.url}/rest/ping.view?apiKey={args.api_key}", timeout=60) as xml:
        text = xml.read().decode()
    check("XML by default, in the Subsonic namespace",
          '<subsonic-response xmlns="http://subsonic.org/restapi" status="ok" version="1.16.1" type="timbre"' in text, text[:200])


def wait_for_similarity(args, song_id, seconds=120):
    """The server's index loads the embeddings a few seconds after it starts."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        _, answer = raw(args.url, "getSonicSimilarTracks", apiKey=args.api_key, id=song_id, count=1)
        if answer.get("sonicMatch"):
            return
        time.sleep(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for option in ("--url", "--user", "--password", "--api-key", "--other-api-key", "--tags"):
        parser.add_argument(option, required=True)
    args = parser.parse_args()
    args.url = args.url.rstrip("/")
    with open(args.tags) as file:
        tags = [json.loads(line) for line in file if line.strip()]
    _, everything = raw(args.url, "search3", apiKey=args.api_key, query="", songCount=1)
    first = everything.get("searchResult3", {}).get("song", [{}])[0].get("id")
    wait_for_similarity(args, first)
    song_id = asyncio.run(opensonic_checks(args, tags))
    sonic_checks(args, tags, song_id)
    code_checks(args)
    print(f"{results['passed']} passed, {results['failed']} failed")
    sys.exit(1 if results["failed"] else 0)


if __name__ == "__main__":
    main()
