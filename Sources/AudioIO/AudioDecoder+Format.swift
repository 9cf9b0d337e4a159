extension AudioDecoder {
    /// The format of an open file, sniffed from its content as the decoders do (not its name):
    /// what the tag write-back hands TagLib.
    public static func format(of file: ReadOnlyFile) throws(AudioError) -> AudioFileFormat {
        try format(of: ByteSource(file: file))
    }
}
