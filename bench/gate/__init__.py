"""The regression gate's A/B mode and the history it feeds.

- `sides`: the base revision in a temporary worktree and the working tree, each with its interpreter.
- `stats`: head ÷ base of a paired ratio, with a hierarchical bootstrap interval and a verdict.
- `ab`: the alternating rounds and the judging; `ab_report`: its markdown; `ab_options`: `bench compare --against`.
- `history`: the SQLite store of results over commits; `history_page`: its HTML and markdown page.
"""
