"""``hgpt``: the project's command line. ``hgpt run ...`` composes a scenario's nodes in one process."""

from __future__ import annotations

from hgpt_core.subcommands import dispatch

COMMANDS = {
    "demo": ("hgpt_bringup.demo", "the main job: human mocap -> retarget -> policy -> MuJoCo, with a report"),
    "run": ("hgpt_bringup.run", "compose a scenario's nodes in one process"),
    "clips": ("hgpt_core.cli", "inspect / convert G1 motion files"),
    "retarget": ("hgpt_retarget.cli", "retarget human mocap files to G1 clips (quality report)"),
    "mocap": ("hgpt_retarget.mocap_cli", "UDP mocap: stream a human file (send), check a bridge (listen)"),
    "eval": ("hgpt_sim.evaluate", "policies side by side on clips in MuJoCo (SR, metrics, plots, video)"),
    "corpus": ("hgpt_training.corpus_cli", "build the motion corpus + HME clusters and report"),
    "bag": ("hgpt_bringup.bag_cli", "record / play rosbag2 bags, cut them into motion clips, info"),
    "viewer": ("hgpt_bringup.viewer_node", "live 3D web viewer of robot + reference (or a bag: --bag)"),
    "description": (
        "hgpt_bringup.robot_description",
        "the G1 URDF (from the MJCF) for robot_state_publisher",
    ),
    "train": ("hgpt_training.train_cli", "train policies: expert (PPO), distill (DAgger), release, table"),
}


def main() -> None:
    dispatch(COMMANDS, "hgpt")


if __name__ == "__main__":
    main()
