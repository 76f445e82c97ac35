use std::io::Write;

fn main() {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut err = std::io::stderr();
    let code = ipvsadm_rs::run(&argv, &mut std::io::stdin(), &mut out, &mut err);
    let _ = out.flush();
    std::process::exit(code);
}
