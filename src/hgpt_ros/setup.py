from setuptools import find_packages, setup

package_name = "hgpt_ros"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test", "tests"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="hgpt developers",
    maintainer_email="dev@hgpt.invalid",
    description="ROS 2 helpers shared by every hgpt node (no torch): run_node, parameters, diagnostics.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},  # colcon test picks pytest from here (tests_require is gone)
)
