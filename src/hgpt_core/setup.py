import os

from setuptools import find_packages, setup

package_name = "hgpt_core"


def package_files(root: str) -> list[str]:
    """Every file under <package>/<root>, relative to the package directory.

    Listed explicitly because '**' in package_data needs setuptools >= 62.3 (Ubuntu 22.04 ships 59.6).
    """
    base = os.path.join(os.path.dirname(os.path.abspath(__file__)), package_name)
    files = []
    for dirpath, _, filenames in os.walk(os.path.join(base, root)):
        files += [os.path.relpath(os.path.join(dirpath, f), base) for f in filenames]
    return sorted(files)


setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test", "tests"]),
    # MJCF, STL meshes and their licence files; read at run time through importlib.resources.
    package_data={package_name: ["py.typed", *package_files("assets")]},
    include_package_data=True,
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
    ],
    install_requires=["setuptools", "numpy", "pyarrow"],  # pyarrow: corpus_store (Arrow IPC shards)
    zip_safe=False,
    maintainer="hgpt developers",
    maintainer_email="dev@hgpt.invalid",
    description="G1 spec and model assets, motion clips and formats, kinematics and the observation layout "
    "shared by simulation, training and the policy node. Pure Python, no rclpy.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},  # colcon test picks pytest from here (tests_require is gone)
    entry_points={"console_scripts": ["hgpt-clips = hgpt_core.cli:main"]},
)
