"""shopfloor.tinyml: edge AI. Trained models exported to a NumPy runtime and to portable C99.

model      the portable model file (``.npz`` of plain arrays + JSON meta; no pickles)
convert    scikit-learn estimators -> model (forests, MLP, Gaussian mixture, elliptic envelope)
features   edge vibration features (waveform statistics + band powers of one real FFT)
runtime    NumPy-only evaluation for the edge agent; ``load_bundle`` for signed bundles
codegen    C99 source of a model (and cfeatures: the same features in C)
verify     compile with gcc, run, compare with the Python model, flash/RAM/µs
bundle     signed model bundles (shopfloor.security.signing)
usecases   CWRU vibration classifier/detector, SKAB pump detector (arrays in, models out)
cli        ``shopfloor tinyml export|verify``
"""
