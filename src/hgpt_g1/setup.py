from setuptools import find_packages, setup

package_name = "hgpt_g1"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test", "tests"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        (
            "share/" + package_name + "/config",
            ["config/fastdds_cyclonedds_interop.xml", "config/g1_bridge.yaml"],
        ),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="hgpt developers",
    maintainer_email="dev@hgpt.invalid",
    description="Real Unitree G1 bridge over unitree_hg LowCmd/LowState with a safety state machine.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},  # colcon test picks pytest from here (tests_require is gone)
    entry_points={
        "console_scripts": [
            "g1_bridge_node = hgpt_g1.g1_bridge_node:main",
            "g1_sim_robot = hgpt_g1.sim_robot_node:main",
            "build_unitree_hg = hgpt_g1.build_unitree_hg:main",
        ]
    },
)
