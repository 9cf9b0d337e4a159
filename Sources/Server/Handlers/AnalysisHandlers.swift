import Catalog
import Foundation
import Tagger

extension TimbreServer {
    func addAnalysisRoutes(_ router: inout Router) {
        // The seed's predict endpoint: multipart `file=` or a raw audio body → the seed's JSON.
        router.add("POST", "/api/v1/analysis/predict", body: .audio) { [unowned self] request, _ in
            let threshold = try request.number("threshold", default: 0.5, in: 0...1)
            let topK = try request.integer("top_k", default: 5, in: 1...1000)
            let withEmbedding = try request.flag("embedding")
            let (bytes, name) = try Self.uploadedAudio(request)
            let model = try self.activeModel()
            let prediction: TrackPrediction
            do {
                prediction = try self.predictions.with(model: model) { try $0.predict(bytes: bytes, name: name) }
            } catch let error as ActiveModelError {
                throw HTTPError(503, "\(error)")
            } catch let error as HTTPError {
                throw error
            } catch {
                throw HTTPError.unprocessable("the upload could not be analysed as audio: \(error)")
            }
            let report = PredictionReport(file: nil, labels: model.labels, probabilities: prediction.probabilities,
                                          threshold: threshold, topK: topK)
            return try .json(PredictionAnswer(report: report, modelVersion: model.version,
                                              embedding: withEmbedding ? prediction.embedding : nil))
        }
    }

    /// The audio of an upload: the multipart part `file`, or the raw body for `audio/*` and
    /// `application/octet-stream`. Anything else is 415; an empty one 400.
    static func uploadedAudio(_ request: Request) throws -> (bytes: [UInt8], name: String) {
        let type = request.contentType ?? ""
        if type == "multipart/form-data" {
            guard let part = request.parts["file"] else {
                throw HTTPError.badRequest("the multipart body has no part named file (send -F file=@song.mp3)")
            }
            guard !part.data.isEmpty else { throw HTTPError.badRequest("the uploaded file is empty") }
            return (part.data, Self.safeName(part.filename))
        }
        guard type.hasPrefix("audio/") || type == "application/octet-stream" else {
            throw HTTPError(415, "send the audio as multipart/form-data (file=…), audio/* or application/octet-stream, not \(type.isEmpty ? "no content type" : type)")
        }
        guard !request.body.isEmpty else { throw HTTPError.badRequest("the body is empty; send the audio file's bytes") }
        return (request.body, "upload")
    }

    /// A client's file name is only a label in messages: its last component, printable, short.
    static func safeName(_ name: String?) -> String {
        let last = (name ?? "upload").split(separator: "/").last.map(String.init) ?? "upload"
        let printable = String(last.unicodeScalars.filter { $0.properties.generalCategory != .control }.prefix(100))
        return printable.isEmpty ? "upload" : printable
    }
}

/// The seed's JSON plus the model version (and the embedding when asked for).
struct PredictionAnswer: Encodable {
    let report: PredictionReport
    let modelVersion: String
    let embedding: [Float]?

    func encode(to encoder: any Encoder) throws {
        typealias Key = PredictionReport.Key
        try report.encode(to: encoder)
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(modelVersion, forKey: Key("model_version"))
        if let embedding { try c.encode(embedding, forKey: Key("embedding")) }
    }
}
