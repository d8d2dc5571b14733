/* Draw the state machine diagram (mermaid from npm, served locally). */
window.mermaid.initialize({ startOnLoad: true, securityLevel: "strict", theme: "default" });
