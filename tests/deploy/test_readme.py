"""Every deployment file is documented, and the README points to the details."""

from tests.deploy.helpers import DEPLOY, ROOT


def test_deploy_readme_names_every_file():
    text = (DEPLOY / "README.md").read_text()
    for path in sorted(DEPLOY.rglob("*")):
        if path.is_file() and path.name != "README.md":
            assert path.name in text, f"{path.relative_to(ROOT)} is not in deploy/README.md"


def test_the_readme_has_a_deployment_section_next_to_cron():
    text = (ROOT / "README.md").read_text()
    sections = [line for line in text.splitlines() if line.startswith("## ")]
    assert sections.index("## Deployment") == sections.index("## Running from cron") + 1
    deployment = text.split("## Deployment", 1)[1].split("\n## ", 1)[0]
    for word in ("deploy/README.md", "systemd", "Kubernetes", "Containerfile", "--account",
                 "exit code", "notify", "Secret"):
        assert word in deployment, word
