import AudioIO
import Catalog
import Foundation
import Service
import Tagger

extension TimbreServer {
    /// `GET /api/v1/tracks/{id}/explain?tag=TAG[&format=json|png][&width=N]`: the Grad-CAM of one
    /// of the active model's tags over the caller's track (`Predictor.explain`), as JSON
    /// (`ExplanationReport`) or as the picture `timbre explain -o` draws.
    func addExplanationRoutes(_ router: inout Router) {
        router.add("GET", "/api/v1/tracks/{id}/explain") { [unowned self] request, context in
            let (_, path, root) = try self.ownedTrack(request, context)
            guard let tag = request.query["tag"], !tag.isEmpty else {
                throw HTTPError.badRequest("tag is required: one of the model's tags, e.g. ?tag=rock")
            }
            guard tag.count <= 200, !tag.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw HTTPError.badRequest("tag is at most 200 characters, without control characters")
            }
            let format = request.query["format"] ?? "json"
            guard ["json", "png"].contains(format) else { throw HTTPError.badRequest("format must be json or png, not \(format)") }
            let width = try request.integer("width", default: SpectrogramPicture.defaultWidth, in: 100...4000)
            let model = try self.activeModel()
            let file = try AudioFile.open(path: path, libraryRoot: root)
            do {
                let explanation = try self.predictions.with(model: model) { try $0.explain(file: file, tag: tag) }
                if format == "png" {
                    let picture = try ExplanationPicture.render(file: file, explanation: explanation, maximumWidth: width)
                    return Response(status: 200, headers: [("Content-Type", "image/png")], body: .bytes(try picture.pngData()))
                }
                return try .json(ExplanationReport(explanation, modelVersion: model.version))
            } catch let error as ExplanationError {
                throw HTTPError.badRequest("\(error)")
            } catch let error as HTTPError {
                throw error
            } catch {
                throw HTTPError.unprocessable("the track's file cannot be explained: \(error)")
            }
        }
    }
}
