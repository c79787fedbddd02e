"""`python -m fer_keras.cli`: what `reproduce` runs each stage as."""

import sys

from . import main

sys.exit(main())
