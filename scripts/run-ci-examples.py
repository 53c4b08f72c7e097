#!/usr/bin/env python3
"""Runs the steps of the CI examples in examples/ci/ here, so they cannot rot: each YAML file is
parsed and checked for the shape its CI reads (a service from the reference server's image with its
health check, the job's environment, steps or script lines, the reports it uploads); the service is
the jcr-reference binary on a free port (the job's JCR_URL is pointed at it, as a runner maps a
service's port), every `run` step / script line is run with bash from the repository root, and the
files the job uploads must exist afterwards (the JUnit report must parse).

    python scripts/run-ci-examples.py target/debug/jcr-reference
"""

import os
import re
import socket
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    """The reference server standing in for the job's service container."""

    def __init__(self, binary):
        self.port = free_port()
        self.data = tempfile.TemporaryDirectory(prefix="ci-example-")
        self.proc = subprocess.Popen(
            [binary, "--bind", f"127.0.0.1:{self.port}", "--data-dir", self.data.name],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}/artifactory"

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=20)
        self.data.cleanup()


def run(name, lines, env):
    for i, script in enumerate(lines):
        print(f"  {name} step {i + 1}: {script.splitlines()[0][:90]}", flush=True)
        r = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, env=env)
        if r.returncode != 0:
            sys.exit(f"{name}: step {i + 1} failed ({r.returncode}):\n{script}")


def expect(cond, what):
    if not cond:
        sys.exit(f"ci example: {what}")


def github(path, binary):
    doc = yaml.safe_load(open(path))
    expect(isinstance(doc.get("jobs"), dict) and doc["jobs"], f"{path}: no jobs")
    for job_name, job in doc["jobs"].items():
        svc = job.get("services", {}).get("jcr", {})
        expect(svc.get("image"), f"{path}: job {job_name} has no jcr service image")
        expect("8081:8081" in [str(p) for p in svc.get("ports", [])], f"{path}: the service maps no 8081")
        expect("jcr-reference health" in svc.get("options", ""), f"{path}: the service has no health check")
        steps = job.get("steps", [])
        expect(all(("run" in s) != ("uses" in s) for s in steps), f"{path}: a step is neither run nor uses")
        service = Service(binary)
        try:
            env = {**os.environ, **{k: str(v) for k, v in job.get("env", {}).items()}, "JCR_URL": service.url}
            run(f"{os.path.basename(path)}:{job_name}", [s["run"] for s in steps if "run" in s], env)
        finally:
            service.stop()
        for s in steps:
            if s.get("uses", "").startswith("actions/upload-artifact"):
                paths = [p for p in s["with"]["path"].split("\n") if p.strip()]
                check_outputs(path, paths)


def gitlab(path, binary):
    doc = yaml.safe_load(open(path))
    jobs = {k: v for k, v in doc.items() if isinstance(v, dict) and "script" in v}
    expect(jobs, f"{path}: no job with a script")
    for job_name, job in jobs.items():
        services = job.get("services", [])
        expect(services and services[0].get("alias") == "jcr", f"{path}: job {job_name} has no jcr service")
        variables = {k: str(v) for k, v in job.get("variables", {}).items()}
        expect(re.match(r"http://jcr:8081/", variables.get("JCR_URL", "")), f"{path}: JCR_URL does not name the service")
        service = Service(binary)
        try:
            env = {**os.environ, **variables, "JCR_URL": service.url}
            run(f"{os.path.basename(path)}:{job_name}", job["script"], env)
        finally:
            service.stop()
        artifacts = job.get("artifacts", {})
        check_outputs(path, artifacts.get("paths", []) + [artifacts.get("reports", {}).get("junit", "")])


def check_outputs(path, paths):
    for p in paths:
        p = p.strip()
        if not p:
            continue
        full = os.path.join(ROOT, p)
        expect(os.path.exists(full), f"{path}: the job uploads {p}, which the steps did not write")
        if p.endswith("junit.xml"):
            suites = ET.parse(full).getroot()
            expect(len(suites.iter("testcase").__next__().attrib) > 0, f"{path}: {p} has no test case")
    print(f"  {os.path.basename(path)}: uploads {', '.join(x.strip() for x in paths if x.strip())}")


def main():
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/debug/jcr-reference"))
    try:
        github(os.path.join(ROOT, "examples/ci/github-actions.yml"), binary)
        gitlab(os.path.join(ROOT, "examples/ci/gitlab-ci.yml"), binary)
    finally:
        try:
            os.remove(os.path.join(ROOT, "artifact.txt"))
        except FileNotFoundError:
            pass
    print("ci examples: both ran")


if __name__ == "__main__":
    main()
