from setuptools import find_packages, setup

package_name = "hgpt_retarget"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test", "tests"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
    ],
    package_data={package_name: ["skeletons/*.yaml"]},
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="hgpt developers",
    maintainer_email="dev@hgpt.invalid",
    description="Human motion-capture to G1 retargeting (IK) and the reference player; core + retarget_node.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},  # colcon test picks pytest from here (tests_require is gone)
    entry_points={
        "console_scripts": [
            "reference_player = hgpt_retarget.reference_player_node:main",
            "retarget_node = hgpt_retarget.retarget_node:main",
            "mocap_source = hgpt_retarget.mocap_source_node:main",
            "hgpt-retarget = hgpt_retarget.cli:main",
            "hgpt-retarget-compare = hgpt_retarget.compare:main",
            "hgpt-retarget-render = hgpt_retarget.render:main",
        ]
    },
)
