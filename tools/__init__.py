"""Tools over the repository: the generated tables of the docs, the offline page template of `dvc plots`."""
