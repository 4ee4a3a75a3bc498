fn total(prices:&[u32])->u32{prices.iter().sum()}
fn main(){ println!("{}",total(&[1,2,3])); }
