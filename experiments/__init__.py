"""The papers' experiment configs, one file per paper (`fer-keras reproduce <paper>`).

Shipped inside the package as `fer_keras.experiments` (pyproject maps this folder there), so an
installed wheel reproduces a paper with no checkout; in a checkout, ./experiments/ is used.
"""
