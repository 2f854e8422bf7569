fn main() {
    println!("crier");
}
