from glob import glob

from setuptools import find_packages, setup

package_name = "hgpt_bringup"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test", "tests"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/launch", glob("launch/*.launch.py")),
        ("share/" + package_name + "/config", glob("config/*.yaml") + glob("config/*.rviz")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="hgpt developers",
    maintainer_email="dev@hgpt.invalid",
    description="Launch files and per-deployment configuration for the hgpt node graph.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},  # colcon test picks pytest from here (tests_require is gone)
    entry_points={
        "console_scripts": [
            "hgpt = hgpt_bringup.cli:main",
            "bag_recorder = hgpt_bringup.bag_ros:main",
            "tracking_monitor = hgpt_bringup.monitor:main",
            "viewer = hgpt_bringup.viewer_node:main",
        ]
    },
)
