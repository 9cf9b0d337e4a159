// TagLib's C++ API over a read-write FileStream on a duplicated descriptor: only the Writeback
// target links this, and only on a temporary copy in the library file's folder (it verifies the
// copy through the read-only shim, then renames it over the original).
#include "CTagLibWriter.h"

#include <taglib/aifffile.h>
#include <taglib/flacfile.h>
#include <taglib/id3v2framefactory.h>
#include <taglib/id3v2header.h>
#include <taglib/id3v2tag.h>
#include <taglib/mpegfile.h>
#include <taglib/opusfile.h>
#include <taglib/tfilestream.h>
#include <taglib/tpropertymap.h>
#include <taglib/vorbisfile.h>
#include <taglib/wavfile.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <unistd.h>

namespace {

int fail(char **error, const std::string &reason) {
    if (error) {
        *error = static_cast<char *>(std::malloc(reason.size() + 1));
        if (*error) std::memcpy(*error, reason.c_str(), reason.size() + 1);
    }
    return 0;
}

std::unique_ptr<TagLib::File> open(TagLib::IOStream *stream, TimbreTagFormat format) {
    using Style = TagLib::AudioProperties::ReadStyle;
    auto *frames = TagLib::ID3v2::FrameFactory::instance();
    switch (format) {
    case TimbreTagFormatMPEG: return std::make_unique<TagLib::MPEG::File>(stream, frames, true, Style::Fast);
    case TimbreTagFormatFLAC: return std::make_unique<TagLib::FLAC::File>(stream, frames, true, Style::Fast);
    case TimbreTagFormatVorbis: return std::make_unique<TagLib::Ogg::Vorbis::File>(stream, true, Style::Fast);
    case TimbreTagFormatOpus: return std::make_unique<TagLib::Ogg::Opus::File>(stream, true, Style::Fast);
    case TimbreTagFormatWAV: return std::make_unique<TagLib::RIFF::WAV::File>(stream, true, Style::Fast);
    case TimbreTagFormatAIFF: return std::make_unique<TagLib::RIFF::AIFF::File>(stream, true, Style::Fast);
    }
    return nullptr;
}

// An existing ID3v2.3 tag stays 2.3 (players that read only 2.3 keep reading it); else 2.4.
TagLib::ID3v2::Version versionOf(TagLib::ID3v2::Tag *tag, bool present) {
    return present && tag && tag->header()->majorVersion() == 3 ? TagLib::ID3v2::v3 : TagLib::ID3v2::v4;
}

bool save(TagLib::File *file, TimbreTagFormat format) {
    using TagLib::File;
    switch (format) {
    case TimbreTagFormatMPEG: {
        auto *mpeg = static_cast<TagLib::MPEG::File *>(file);
        int tags = TagLib::MPEG::File::ID3v2;
        if (mpeg->hasID3v1Tag()) tags |= TagLib::MPEG::File::ID3v1;
        if (mpeg->hasAPETag()) tags |= TagLib::MPEG::File::APE;
        const auto version = versionOf(mpeg->ID3v2Tag(false), mpeg->hasID3v2Tag());
        return mpeg->save(tags, File::StripNone, version, File::DoNotDuplicate);
    }
    case TimbreTagFormatWAV: {
        auto *wav = static_cast<TagLib::RIFF::WAV::File *>(file);
        const auto version = versionOf(wav->ID3v2Tag(), wav->hasID3v2Tag());
        return wav->save(TagLib::RIFF::WAV::File::AllTags, File::StripNone, version);
    }
    case TimbreTagFormatAIFF: {
        auto *aiff = static_cast<TagLib::RIFF::AIFF::File *>(file);
        return aiff->save(versionOf(aiff->tag(), aiff->hasID3v2Tag()));
    }
    default: return file->save();
    }
}

}  // namespace

extern "C" int timbre_tag_values_write(int descriptor, TimbreTagFormat format, const char *key,
                                       const char *const *values, unsigned int count, char **error) {
    if (error) *error = nullptr;
    const int own = dup(descriptor);
    if (own < 0) return fail(error, "cannot duplicate the descriptor");
    // The duplicate shares the caller's offset (the end, after copying the file into it), and
    // RIFF parsing starts where the stream stands.
    lseek(own, 0, SEEK_SET);
    try {
        TagLib::FileStream stream(own, /* openReadOnly */ false);
        if (!stream.isOpen()) {
            close(own);
            return fail(error, "TagLib cannot open the copy for writing");
        }
        if (stream.readOnly()) return fail(error, "the copy is open read-only");
        const auto file = open(&stream, format);
        if (!file || !file->isValid()) return fail(error, "TagLib cannot parse the file's tags");
        const TagLib::String name = TagLib::String(key, TagLib::String::UTF8).upper();
        TagLib::PropertyMap properties = file->properties();
        if (count == 0) {
            properties.erase(name);
        } else {
            TagLib::StringList list;
            for (unsigned int i = 0; i < count; i++) list.append(TagLib::String(values[i], TagLib::String::UTF8));
            properties.replace(name, list);
        }
        const TagLib::PropertyMap rejected = file->setProperties(properties);
        if (count > 0 && rejected.contains(name)) {
            return fail(error, "this format's tags have no place for " + name.to8Bit(true));
        }
        if (!save(file.get(), format)) return fail(error, "TagLib could not save the tags");
        return 1;
    } catch (const std::exception &exception) {
        return fail(error, std::string("TagLib failed: ") + exception.what());
    } catch (...) {
        return fail(error, "TagLib failed");
    }
}
