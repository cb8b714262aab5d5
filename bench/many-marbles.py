#!/usr/bin/env python3
"""Prints a manifest with N marble types (bench/ha.sh, bench/start-large.sh):
one package, MaxActivations 10 and a secret-templated Env each, so the state
grows with N the way a large deployment's does.   usage: many-marbles.py N"""
import json
import sys

n = int(sys.argv[1])
print(json.dumps({
    "Packages": {"pkg": {"Debug": True, "UniqueID": "00"}},
    "Marbles": {"m%d" % i: {"Package": "pkg", "MaxActivations": 10,
                            "Parameters": {"Env": {"K": "{{ hex .Secrets.k }}"}, "Argv": ["m%d" % i, "--flag"]}}
                for i in range(n)},
    "Secrets": {"k": {"Type": "symmetric-key", "Size": 128}}}))
