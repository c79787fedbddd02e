"""train: configs (frozen dataclasses), the experiment runner and its cells, the run folder's
state and lock, worker processes, training callbacks, upkeep of old cells, studies (Optuna)
and `reproduce` (a paper's stages as commands). Composes data/ and models/; imports neither
use/ nor reports/."""
