"""Map the top-level templates/, stacks/ and agent_image/ into the installed package."""
from setuptools import find_packages, setup

DATA_DIRS = {
    "bosun_local.templates": "templates",
    "bosun_local.stacks": "stacks",
    "bosun_local.agent_image": "agent_image",
}

setup(
    packages=find_packages(include=["bosun_local", "bosun_local.*"]) + list(DATA_DIRS),
    package_dir={"": ".", **DATA_DIRS},
    package_data={**{name: ["**/*", "*"] for name in DATA_DIRS},
                  "bosun_local.plugins.compat.config_samples": ["*.yaml"]},
    include_package_data=True,
)
