import Charts

/// `training_curves.svg`: train and validation loss per epoch beside the validation metrics.
enum TrainingCurves {
    static func svg(history: [EpochRecord], metric: String) throws -> String {
        let epochs = history.map { Double($0.epoch) }
        let losses = LineChart(
            title: "Loss", xLabel: "epoch", yLabel: "BCE loss",
            series: [LineChart.Series(name: "train", x: epochs, y: history.map(\.trainLoss)),
                     LineChart.Series(name: "validation", x: epochs, y: history.map(\.valLoss), dashed: true)])
        let metrics = LineChart(
            title: "Validation metrics (tracks)", xLabel: "epoch", yLabel: "score",
            series: [LineChart.Series(name: "PR-AUC macro", x: epochs, y: history.map { $0.validation.prAucMacro ?? 0 }),
                     LineChart.Series(name: "ROC-AUC macro", x: epochs, y: history.map { $0.validation.rocAucMacro ?? 0 }),
                     LineChart.Series(name: "F1 macro", x: epochs, y: history.map(\.validation.f1Macro)),
                     LineChart.Series(name: "F1 micro", x: epochs, y: history.map(\.validation.f1Micro))],
            yRange: 0...1)
        return try sideBySide([losses.svg(), metrics.svg()], width: losses.width, height: losses.height)
    }

    /// Several SVG documents as nested `<svg>` elements in one row.
    static func sideBySide(_ documents: [String], width: Double, height: Double) -> String {
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width) * documents.count)\" height=\"\(Int(height))\">\n"
        for (i, document) in documents.enumerated() {
            var body = document
            if let prolog = body.range(of: "?>") { body = String(body[prolog.upperBound...]) }
            body = body.replacingOccurrences(of: "<svg ", with: "<svg x=\"\(Int(width) * i)\" ", options: [], range: body.range(of: "<svg "))
            out += body + "\n"
        }
        return out + "</svg>\n"
    }
}
