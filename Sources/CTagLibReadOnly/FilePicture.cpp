// Embedded cover art through TagLib's C++ API, from a read-only descriptor as FileTags.cpp reads
// tags (the same reasons: never by path, never for writing).
#include "CTagLibReadOnly.h"

#include <taglib/aifffile.h>
#include <taglib/attachedpictureframe.h>
#include <taglib/flacfile.h>
#include <taglib/flacpicture.h>
#include <taglib/id3v2framefactory.h>
#include <taglib/id3v2tag.h>
#include <taglib/mpegfile.h>
#include <taglib/opusfile.h>
#include <taglib/tfilestream.h>
#include <taglib/vorbisfile.h>
#include <taglib/wavfile.h>
#include <taglib/xiphcomment.h>

#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace {

struct Found {
    TagLib::ByteVector data;
    TagLib::String mime;
    bool front = false;
    bool any = false;
};

void consider(Found &found, const TagLib::ByteVector &data, const TagLib::String &mime, bool front) {
    if (data.isEmpty()) return;
    if (found.any && (found.front || !front)) return;  // keep the first, unless a front cover comes later
    found.data = data;
    found.mime = mime;
    found.front = front;
    found.any = true;
}

void fromID3v2(Found &found, TagLib::ID3v2::Tag *tag) {
    if (!tag) return;
    const auto &frames = tag->frameListMap();
    const auto apic = frames.find("APIC");
    if (apic == frames.end()) return;
    for (TagLib::ID3v2::Frame *frame : apic->second) {
        auto *picture = dynamic_cast<TagLib::ID3v2::AttachedPictureFrame *>(frame);
        if (picture) consider(found, picture->picture(), picture->mimeType(), picture->type() == TagLib::ID3v2::AttachedPictureFrame::FrontCover);
    }
}

void fromFLACPictures(Found &found, const TagLib::List<TagLib::FLAC::Picture *> &pictures) {
    for (TagLib::FLAC::Picture *picture : pictures) {
        if (picture) consider(found, picture->data(), picture->mimeType(), picture->type() == TagLib::FLAC::Picture::FrontCover);
    }
}

void fromXiph(Found &found, TagLib::Ogg::XiphComment *comment) {
    if (comment) fromFLACPictures(found, comment->pictureList());
}

Found read(TagLib::IOStream *stream, TimbreTagFormat format) {
    Found found;
    auto *frames = TagLib::ID3v2::FrameFactory::instance();
    switch (format) {
    case TimbreTagFormatMPEG: {
        TagLib::MPEG::File file(stream, frames, false);
        if (file.isValid()) fromID3v2(found, file.ID3v2Tag());
        break;
    }
    case TimbreTagFormatFLAC: {
        TagLib::FLAC::File file(stream, frames, false);
        if (file.isValid()) {
            fromFLACPictures(found, file.pictureList());
            fromXiph(found, file.xiphComment());
            fromID3v2(found, file.ID3v2Tag());
        }
        break;
    }
    case TimbreTagFormatVorbis: {
        TagLib::Ogg::Vorbis::File file(stream, false);
        if (file.isValid()) fromXiph(found, file.tag());
        break;
    }
    case TimbreTagFormatOpus: {
        TagLib::Ogg::Opus::File file(stream, false);
        if (file.isValid()) fromXiph(found, file.tag());
        break;
    }
    case TimbreTagFormatWAV: {
        TagLib::RIFF::WAV::File file(stream, false);
        if (file.isValid()) fromID3v2(found, file.ID3v2Tag());
        break;
    }
    case TimbreTagFormatAIFF: {
        TagLib::RIFF::AIFF::File file(stream, false);
        if (file.isValid()) fromID3v2(found, file.tag());
        break;
    }
    }
    return found;
}

}  // namespace

extern "C" int timbre_file_picture_read(int descriptor, TimbreTagFormat format, unsigned long max_size, TimbreFilePicture *picture) {
    std::memset(picture, 0, sizeof *picture);
    const int own = dup(descriptor);
    if (own < 0) return 0;
    try {
        TagLib::FileStream stream(own, /* openReadOnly */ true);
        if (!stream.isOpen()) {
            close(own);
            return 0;
        }
        const Found found = read(&stream, format);
        if (!found.any || found.data.size() > max_size) return 0;
        picture->data = static_cast<unsigned char *>(std::malloc(found.data.size()));
        if (!picture->data) return 0;
        std::memcpy(picture->data, found.data.data(), found.data.size());
        picture->size = found.data.size();
        if (!found.mime.isEmpty()) {
            const std::string mime = found.mime.to8Bit(true);
            picture->mime_type = static_cast<char *>(std::malloc(mime.size() + 1));
            if (picture->mime_type) std::memcpy(picture->mime_type, mime.c_str(), mime.size() + 1);
        }
        return 1;
    } catch (...) {  // std::bad_alloc on a hostile file: no picture rather than a crash
        timbre_file_picture_free(picture);
        return 0;
    }
}

extern "C" void timbre_file_picture_free(TimbreFilePicture *picture) {
    std::free(picture->data);
    std::free(picture->mime_type);
    picture->data = nullptr;
    picture->mime_type = nullptr;
    picture->size = 0;
}
