"""The ``.gitignore`` mlvc writes into a folder it turns into a repository."""

__all__ = ["ML_GITIGNORE"]

ML_GITIGNORE = """\
# ML project .gitignore, written by mlvc-jupyter.
# The usual ML template also ignores *.json, models/, lib/ and lib64/; they are left out here
# because they would hide code and configs that an experiment needs to be reproduced.

# Python
__pycache__/
*.py[cod]
*$py.class
*.so
.Python
build/
develop-eggs/
dist/
downloads/
eggs/
.eggs/
parts/
sdist/
var/
wheels/
*.egg-info/
.installed.cfg
*.egg

# Virtual environments
venv/
env/
ENV/
.venv/
.env/

# Jupyter Notebook
.ipynb_checkpoints

# PyTorch
*.pth
*.pt
*.ckpt

# TensorFlow
*.h5
*.hdf5
*.pb
*.pkl

# Checkpoints and models
checkpoints/
saved_models/
*.model

# Data
data/
datasets/
*.csv
*.parquet

# Logs
logs/
*.log
tensorboard_logs/
wandb/
mlruns/

# IDE
.vscode/
.idea/
*.swp
*.swo
*~

# OS
.DS_Store
Thumbs.db

# Temporary files
tmp/
temp/
*.tmp

# Environment variables
.env
.env.local
.env.production

# Config files with secrets
config/secrets.yaml
config/local.yaml

# Large files
*.zip
*.tar.gz
*.rar

# Profiling outputs
profiles/
*.prof
"""
