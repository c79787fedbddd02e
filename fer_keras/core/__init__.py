"""core: what every wing reads and nothing of a wing: class labels, the error type, provenance
(hashes, atomic writes), TensorFlow process set-up, paths, the one metrics function, the
run-folder contract (`cellfiles`: every file name; `rundata`: a finished cell read back),
the repaired-data rule (`damaged`) and the record of what a command wrote (`outputs`).

core imports no other part of fer_keras (tests/test_imports.py)."""
