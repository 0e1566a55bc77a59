from setuptools import find_packages, setup

package_name = "hgpt_policy"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test", "tests"]),
    # The released Humanoid-GPT (``hgpt``, with its training card) and the peer TWIST2 tracker (MIT, with its
    # licence and layout notes).
    package_data={
        package_name: [
            "assets/twist2/LICENSE",
            "assets/twist2/LAYOUT.md",
            "assets/twist2/*.onnx",
            "assets/hgpt_gpt_s/*.onnx",
            "assets/hgpt_gpt_s/CARD.md",
            "assets/hgpt_gpt_s/card.json",
            "assets/hgpt_gpt_s/curve.png",
        ]
    },
    include_package_data=True,
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="hgpt developers",
    maintainer_email="dev@hgpt.invalid",
    description="Causal Transformer tracking policy runtime (KV cache, ONNX export) and baselines.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},  # colcon test picks pytest from here (tests_require is gone)
    entry_points={"console_scripts": ["policy_node = hgpt_policy.policy_node:main"]},
)
