export interface Item { price: number; qty: number }
export const total=(items:Item[])=>{return items.reduce((sum,i)=>sum+i.price*i.qty,0)}
