"""Option help shared by the commands that train (each config has these fields)."""

TRACKING_HELP = {
    "tensorboard": "write TensorBoard events to RUN/tensorboard (tensorboard --logdir runs)",
    "track": "also log the run to: mlflow (./mlruns, or MLFLOW_TRACKING_URI)",
}
