"""use: what a trained model is for: `predict` (faces found, aligned, classified), the
published models (`pretrained`), `export` (SavedModel, LiteRT, ONNX), `publish` (a cell to a
published model with its card), the face-detector benchmark (`facebench`) and `bench`.
Imports data/, models/, claims/ and reports/ (publish writes a card); never train/."""
